import { z } from 'zod';

/**
 * Objects keyed by what a corpus or a user names (labels, corpus names, label maps). A plain `{}` inherits
 * `constructor`, `toString`, `hasOwnProperty`... and treats `__proto__` as its prototype: a label of that name would be
 * read as a function or vanish when written. These objects have no prototype, so every such name is an ordinary own
 * key; JSON.stringify writes them as any other.
 */
export type OwnRecord<V> = Record<string, V>;

/** A prototype-less object holding `entries` (a later entry of the same key wins). */
export function ownRecord<V>(entries: Iterable<readonly [string, V]> = []): OwnRecord<V> {
  const out = Object.create(null) as OwnRecord<V>;
  for (const [key, value] of entries) out[key] = value;
  return out;
}

/** `record[key]` where `key` is the record's own key, else undefined (never an inherited property). */
export function ownValue<V>(record: Readonly<Record<string, V>> | null | undefined, key: string): V | undefined {
  return record && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** The z.record each ownRecordSchema stands for, so that one nested in another is described as a record too. */
const DESCRIBED = new WeakMap<z.ZodType, z.ZodType>();

/**
 * z.record(key, value), except that the parsed record is prototype-less and keeps every own key of the input:
 * zod's record drops a `__proto__` key (JSON.parse makes it an own key; zod will not assign it to the `{}` it builds),
 * so a label `__proto__` would vanish from a manifest or a label map as it is read. An invalid key or value is an
 * issue at its path, as z.record reports it. The API description (OpenAPI) shows it as the z.record it stands for.
 */
export function ownRecordSchema<V extends z.ZodType>(key: z.ZodType<string, string>, value: V) {
  const described = z.record(key, DESCRIBED.get(value) ?? value);
  const schema = z.unknown().transform((input, ctx): OwnRecord<z.output<V>> => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      ctx.addIssue({ code: 'invalid_type', expected: 'record', input, message: `Invalid input: expected record, received ${input === null ? 'null' : Array.isArray(input) ? 'array' : typeof input}` });
      return z.NEVER;
    }
    const out = ownRecord<z.output<V>>();
    for (const name of Object.keys(input)) {
      const keyResult = key.safeParse(name);
      if (!keyResult.success) {
        for (const issue of keyResult.error.issues) ctx.addIssue({ code: 'custom', message: `invalid key: ${issue.message}`, path: [name], input: name });
        continue;
      }
      const valueResult = value.safeParse((input as Record<string, unknown>)[name]);
      if (!valueResult.success) {
        for (const issue of valueResult.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: [name, ...issue.path], input: (input as Record<string, unknown>)[name] });
        continue;
      }
      out[keyResult.data] = valueResult.data as z.output<V>;
    }
    return out;
  }).meta({ override: describedAs(described) });
  DESCRIBED.set(schema, described);
  return schema;
}

/** A schema's JSON Schema, for an API description to show in place of the transform that parses it. */
function describedAs(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>;
  return json;
}
