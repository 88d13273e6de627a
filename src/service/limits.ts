import { charCount } from '../chars.js';
import { LimitError } from '../errors.js';
import type { SelectionOptions } from '../retrieve/select.js';
import { SETTINGS_TABLE, type Settings } from '../settings.js';

/** The limits on the work one request may ask for (settings.ts has their defaults and variables). */
export type RequestLimits = Pick<Settings, 'maxBatchQueries' | 'maxRequestChars' | 'maxDemonstrations' | 'maxListItems' | 'maxPromptChars'>;

function variable(name: keyof RequestLimits): string {
  return SETTINGS_TABLE.find((s) => s.name === name)!.env;
}

/** A request over one of the limits: a 400 naming the parameter, the limit and the setting that raises it. */
function overLimit(param: string, what: string, limit: keyof RequestLimits, limits: RequestLimits): LimitError {
  return new LimitError(param, `${what}, over this service's limit of ${limits[limit]} (${variable(limit)})`);
}

/** The error of a request over a limit (defined with the other errors in errors.ts). */
export { LimitError };

/** Checked before the body is validated item by item, so a huge list costs nothing. */
export function checkBatchLength(queries: unknown, limits: RequestLimits): void {
  if (Array.isArray(queries) && queries.length > limits.maxBatchQueries) {
    throw overLimit('queries', `has ${queries.length} queries`, 'maxBatchQueries', limits);
  }
}

/** A list parameter (labels, split, exclude_dialogue) of at most maxListItems items. */
export function checkList(param: string, list: readonly unknown[] | undefined, limits: RequestLimits): void {
  if (list && list.length > limits.maxListItems) throw overLimit(param, `has ${list.length} items`, 'maxListItems', limits);
}

/** Characters (code points) to embed or render in one request. */
export function checkRequestChars(param: string, texts: readonly string[], limits: RequestLimits): void {
  const total = texts.reduce((n, t) => n + charCount(t), 0);
  if (total > limits.maxRequestChars) throw overLimit(param, `hold ${total} characters in all`, 'maxRequestChars', limits);
}

/** Demonstrations a selection can return: k, or k for each label searched (per-label). */
export function demonstrationsAsked(selection: Pick<SelectionOptions, 'k' | 'strategy' | 'labels'>, indexLabelCount: number): number {
  return selection.strategy === 'per-label' ? selection.k * (selection.labels?.length || indexLabelCount) : selection.k;
}

export function checkDemonstrations(param: string, asked: number, limits: RequestLimits): void {
  if (asked > limits.maxDemonstrations) {
    throw overLimit(param, `asks for up to ${asked} demonstrations (k, times the labels searched with per-label, summed over queries)`, 'maxDemonstrations', limits);
  }
}
