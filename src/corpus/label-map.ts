import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { labelScheme, UNIFIED_LABELS } from './labels.js';
import { ownRecord, ownRecordSchema, ownValue } from './own-keys.js';

/**
 * corpus -> (its own label -> a label of the unified space), as a `--label-map` file and the manifest hold it. Parsed
 * maps are prototype-less at both levels (own-keys.ts): a corpus or label named `constructor` or `__proto__` is a key
 * like any other.
 */
export type LabelMap = Record<string, Record<string, string>>;

export const LabelMapSchema = ownRecordSchema(z.string().min(1), ownRecordSchema(z.string().min(1), z.string().min(1)));

/** Reads a `--label-map` JSON file (`{corpus: {label: unified label}}`), every error naming the file. */
export function readLabelMapFile(path: string): LabelMap {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new InputError('label-map', `${path}: ${(error as Error).message}`);
  }
  const parsed = LabelMapSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError('label-map', `${path}: must be {"<corpus>": {"<label>": "<unified label>"}}; at ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return parsed.data;
}

function unifiedName(label: string): string | undefined {
  return UNIFIED_LABELS.find((u) => u === label.toLowerCase());
}

/**
 * The mapping one corpus' labels go through into the unified space: the paper's Table 3 where the corpus is known
 * (labels.ts), with the user's entries added or overriding. A user entry onto a label outside the space is refused,
 * naming corpus and label.
 */
export function corpusLabelMap(corpus: string, userMap: LabelMap = {}): Record<string, string> {
  const map = ownRecord(Object.entries(labelScheme(corpus)?.toUnified ?? {}));
  const user = Object.entries(userMap).find(([name]) => name.toLowerCase() === corpus.toLowerCase())?.[1] ?? {};
  for (const [label, target] of Object.entries(user)) {
    const unified = unifiedName(target);
    if (!unified) throw new InputError('label-map', `${corpus} label "${label}" is mapped onto "${target}", which is not in the unified space (${UNIFIED_LABELS.join(', ')})`);
    map[label] = unified;
  }
  return map;
}

/** A label through a corpus' map: exact, then ignoring case; a label already in the unified space maps to itself. */
export function mapLabel(map: Readonly<Record<string, string>>, label: string): string | undefined {
  if (Object.hasOwn(map, label)) return map[label];
  const lower = label.toLowerCase();
  const key = Object.keys(map).find((k) => k.toLowerCase() === lower);
  return key !== undefined ? map[key] : unifiedName(label);
}

/** One corpus' map of a label map, where it has one (its own key: a corpus named `constructor` is no inherited one). */
export function labelMapOf(labelMap: LabelMap | null | undefined, corpus: string): Record<string, string> | undefined {
  return ownValue(labelMap, corpus);
}

/** `base` with `added`'s entries put in, per corpus (an index's label maps and a `--label-map` given beside it). */
export function mergeLabelMaps(base: LabelMap | null | undefined, added: LabelMap): LabelMap {
  const merged = ownRecord(Object.entries(base ?? {}).map(([corpus, map]) => [corpus, ownRecord(Object.entries(map))] as const));
  for (const [corpus, map] of Object.entries(added)) merged[corpus] = ownRecord([...Object.entries(ownValue(merged, corpus) ?? {}), ...Object.entries(map)]);
  return merged;
}
