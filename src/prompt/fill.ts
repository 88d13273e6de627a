import { InputError } from '../errors.js';

/** Values a template may use; null means "unknown here" (a missing score): a template that needs it yields null. */
export type TemplateVars = Readonly<Record<string, string | null>>;

const PLACEHOLDER = /\{([a-z][a-z0-9_]*)\}/g;

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** What to shorten when a part of the prompt is too long, by the placeholder that carries it. */
const PARAM_OF: Readonly<Record<string, string>> = { history: 'options.window', demonstrations: 'options.k', examples: 'options.k', text: 'dialogue.turns' };

/** A rendered prompt over its size limit: a 400 naming what to shorten. */
export class PromptTooLongError extends InputError {
  constructor(param: string, message: string) {
    super(param, message);
    this.name = 'PromptTooLongError';
  }
}

/**
 * The size `fill` would produce, computed without building it, and the placeholder contributing most. Throws
 * TemplateError for a placeholder that `vars` does not hold as its own (so `{constructor}` is unknown, not
 * Object's constructor).
 */
function filledSize(template: string, vars: TemplateVars, where: string): { size: number; largest?: { name: string; chars: number; count: number } } {
  let size = template.length;
  const byName = new Map<string, { chars: number; count: number }>();
  for (const [match, name] of template.matchAll(PLACEHOLDER)) {
    if (!Object.hasOwn(vars, name)) {
      throw new TemplateError(`${where}: unknown placeholder {${name}} (known: ${Object.keys(vars).map((k) => `{${k}}`).join(', ')})`);
    }
    const length = vars[name]?.length ?? 0;
    size += length - match.length;
    const entry = byName.get(name) ?? { chars: 0, count: 0 };
    entry.chars += length;
    entry.count += 1;
    byName.set(name, entry);
  }
  const largest = [...byName.entries()].sort((a, b) => b[1].chars - a[1].chars)[0];
  return { size, largest: largest && { name: largest[0], ...largest[1] } };
}

/**
 * Replaces `{name}` placeholders. An unknown placeholder is an error naming it (a typo in a user's template must
 * not end up in thousands of prompts); a known one whose value is null makes the whole result null. A result over
 * `maxChars` is refused before it is built (PromptTooLongError), so a template repeating a long value costs nothing.
 */
export function fill(template: string, vars: TemplateVars, where = 'template', maxChars = Number.POSITIVE_INFINITY): string | null {
  const { size, largest } = filledSize(template, vars, where);
  if (size > maxChars) {
    const why = largest ? `; {${largest.name}} alone brings ${largest.chars} characters${largest.count > 1 ? ` (${largest.count} times)` : ''}` : '';
    throw new PromptTooLongError(largest ? PARAM_OF[largest.name] ?? 'format' : 'format', `${where} would render ${size} characters, over this service's limit of ${maxChars} (ERC_DEMOS_MAX_PROMPT_CHARS)${why}`);
  }
  let missing = false;
  const out = template.replace(PLACEHOLDER, (_match, name: string) => {
    const value = vars[name];
    if (value === null) {
      missing = true;
      return '';
    }
    return value;
  });
  return missing ? null : out;
}
