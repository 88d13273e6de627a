import { z } from 'zod';
import { InputError } from './errors.js';

/**
 * The one rule for a number written as text, at every door: HTTP query values, CLI options, environment settings.
 * An integer is plain digits with an optional leading minus; a decimal the same with at most one point (`0.5`, `.5`,
 * `1.`). Nothing else is read as a number, so nothing is guessed: not an empty or blank value (`Number('')` is 0),
 * surrounding whitespace, a leading `+`, hex, binary or octal (`0x5`, `0b101`, `0o5`), an exponent (`1e1`), digit
 * separators (`1_000`), `Infinity` or `NaN`. A leading zero is decimal (`08` is 8).
 */
export const INTEGER_TEXT = /^-?\d+$/;
export const DECIMAL_TEXT = /^-?(\d+\.?\d*|\.\d+)$/;

export type NumberKind = 'integer' | 'decimal';

/** Bounds, both inclusive. */
export interface NumberRange {
  min?: number;
  max?: number;
}

/** The words for a range: "between 1 and 100", "at least 0", "at most 5", or nothing. */
function rangeWords({ min, max }: NumberRange): string {
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}`;
  if (min !== undefined) return `at least ${min}`;
  if (max !== undefined) return `at most ${max}`;
  return '';
}

/** What a value out of range is told: "must be between 1 and 100". */
export function rangeMessage(range: NumberRange): string {
  return `must be ${rangeWords(range)}`;
}

/** What a value that is not a number of this kind is told: "must be an integer between 1 and 100", "must be an integer, at least 0". */
export function notANumberMessage(kind: NumberKind, range: NumberRange): string {
  const words = rangeWords(range);
  return `must be ${kind === 'integer' ? 'an integer' : 'a number'}${!words ? '' : words.startsWith('between') ? ` ${words}` : `, ${words}`}`;
}

/** The problem with a text that is not written by the rule, with what was given, for a door that does not show it (a CLI flag). */
function withText(kind: NumberKind, problem: string, text: string): string {
  if (text === '') return `${problem}, got an empty value`;
  const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
  return `${problem} (${kind === 'integer' ? 'plain digits' : 'plain digits with at most one point'}), got ${shown}`;
}

/**
 * The number `text` writes, by the rule above and within `range`, or why it is not one (`unwritten`: not written as
 * the rule says, as against out of range).
 */
export function readNumber(kind: NumberKind, text: string, range: NumberRange = {}): { value: number } | { problem: string; unwritten: boolean } {
  if (!(kind === 'integer' ? INTEGER_TEXT : DECIMAL_TEXT).test(text)) return { problem: notANumberMessage(kind, range), unwritten: true };
  const value = Number(text) + 0; // -0 as 0
  // Too many digits to be held exactly (an integer) or at all (a decimal of 400 digits is Infinity).
  if (kind === 'integer' ? !Number.isSafeInteger(value) : !Number.isFinite(value)) {
    const bound = value > 0 ? range.max : range.min;
    const limit = kind === 'integer' ? Number.MAX_SAFE_INTEGER : Number.MAX_VALUE;
    return { problem: bound !== undefined ? rangeMessage(range) : value > 0 ? `must be at most ${limit}` : `must be at least ${-limit}`, unwritten: false };
  }
  if ((range.min !== undefined && value < range.min) || (range.max !== undefined && value > range.max)) return { problem: rangeMessage(range), unwritten: false };
  return { value };
}

/** A number given as a CLI flag's text: its value, or an InputError naming the flag and showing what was given. */
function parseText(kind: NumberKind, name: string, text: string, range: NumberRange): number {
  const read = readNumber(kind, text, range);
  if ('value' in read) return read.value;
  throw new InputError(name, read.unwritten ? withText(kind, read.problem, text) : read.problem);
}

/** An integer option given as text (a CLI flag). */
export function parseInteger(name: string, text: string, range: NumberRange = {}): number {
  return parseText('integer', name, text, range);
}

/** A decimal option given as text (a CLI flag). */
export function parseDecimal(name: string, text: string, range: NumberRange = {}): number {
  return parseText('decimal', name, text, range);
}

/** The typed side: a JSON or program number of this kind within range, with the same messages as its text. */
export function numberSchema(kind: NumberKind, range: NumberRange = {}): z.ZodNumber {
  let schema = z.number({ error: notANumberMessage(kind, range) });
  if (kind === 'integer') schema = schema.int(notANumberMessage(kind, range));
  if (range.min !== undefined) schema = schema.min(range.min, rangeMessage(range));
  if (range.max !== undefined) schema = schema.max(range.max, rangeMessage(range));
  return schema;
}

/**
 * A number given as text (an HTTP query value), read by the rule above; documented (OpenAPI) as the number it must
 * be. A number that is already one (a program's) is checked as `numberSchema` checks it.
 */
export function numberFromText(kind: NumberKind, range: NumberRange = {}) {
  return z.preprocess((value, ctx) => {
    if (typeof value !== 'string') return value;
    const read = readNumber(kind, value, range);
    if ('value' in read) return read.value;
    ctx.addIssue({ code: 'custom', message: read.problem, input: value });
    return z.NEVER;
  }, numberSchema(kind, range));
}
