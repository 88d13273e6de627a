import type { z } from 'zod';
import { InputError } from '../errors.js';

/** Parses with a zod schema; the first problem becomes an InputError naming its parameter (or field path). */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, root = 'body'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const prefix = issue.path.length ? `${issue.path.join('.')}.` : '';
    throw new InputError(`${prefix}${issue.keys[0]}`, 'unknown parameter');
  }
  const param = issue.path.length ? issue.path.join('.') : root;
  let message = issue.message;
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) message = 'is required';
  throw new InputError(param, message);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
