import { InputError } from '../errors.js';
import { isSupportedSeed, MAX_SEED, seededShuffle } from '../random.js';
import { ownRecord } from './own-keys.js';
import type { Dialogue } from './types.js';

/** InstructERC's data-scaling mixes: `total` samples the pooled dialogues, `ratio` each corpus by the same fraction. */
export const MIXES = ['total', 'ratio'] as const;
export type Mix = (typeof MIXES)[number];
export const DEFAULT_MIX: Mix = 'total';
export const DEFAULT_SAMPLE_SEED = 1;

export interface Fraction {
  /** As written (trimmed): "1/8", "0.125". */
  text: string;
  value: number;
}

export interface SampleSpec {
  fraction: Fraction;
  mix: Mix;
  seed: number;
}

/** What a fraction index records in its manifest, and what a fraction export must match. */
export interface SampleRecord {
  fraction: string;
  value: number;
  mix: Mix;
  seed: number;
  /** Per corpus: dialogues sampled, of how many. */
  per_corpus: Record<string, { sampled: number; of: number }>;
  /** The sampled dialogue ids, sorted. */
  dialogues: string[];
}

/** "1/8", "0.125" or "1": a number in (0, 1]; anything else is an InputError naming --fraction. */
export function parseFraction(text: string): Fraction {
  const trimmed = text.trim();
  const ratio = /^(\d+)\s*\/\s*(\d+)$/.exec(trimmed);
  const value = ratio ? Number(ratio[1]) / Number(ratio[2]) : /^\d*\.?\d+(e-?\d+)?$/i.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!(value > 0 && value <= 1)) throw new InputError('fraction', `"${text}" must be a fraction in (0, 1], such as 1/8 or 0.125`);
  return { text: trimmed, value };
}

/**
 * A sample's seed is a whole number from 0 to MAX_SEED (2^32 - 1), the generator's whole state; anything else is an
 * InputError naming `seed`, at every door (CLI, library), rather than a seed that gives another seed's sample while the
 * manifest records it as its own.
 */
export function checkSampleSeed(seed: number): void {
  if (isSupportedSeed(seed)) return;
  throw new InputError('seed', `${seed} is not a seed: give a whole number from 0 to ${MAX_SEED} (2^32 - 1); the sampler's state is 32 bits, so a larger seed would only repeat the sample of a smaller one`);
}

/** How many dialogues of `of` a fraction takes: the nearest whole number, at least one. */
function sampledCount(value: number, of: number): number {
  return Math.min(of, Math.max(1, Math.round(value * of)));
}

/**
 * Whole dialogues, seeded: `ratio` takes the fraction of each corpus, `total` of the pool; the same spec over the same
 * dialogues always gives the same sample, kept in corpus order.
 */
export function sampleDialogues(dialogues: readonly Dialogue[], spec: SampleSpec): { dialogues: Dialogue[]; record: SampleRecord } {
  checkSampleSeed(spec.seed);
  const byCorpus = new Map<string, string[]>();
  for (const d of dialogues) {
    if (!byCorpus.has(d.corpus)) byCorpus.set(d.corpus, []);
    byCorpus.get(d.corpus)!.push(d.id);
  }
  const chosen = new Set<string>();
  if (spec.mix === 'ratio') {
    for (const ids of byCorpus.values()) for (const id of seededShuffle(ids, spec.seed).slice(0, sampledCount(spec.fraction.value, ids.length))) chosen.add(id);
  } else {
    const all = dialogues.map((d) => d.id);
    for (const id of seededShuffle(all, spec.seed).slice(0, sampledCount(spec.fraction.value, all.length))) chosen.add(id);
  }
  const sampled = dialogues.filter((d) => chosen.has(d.id));
  const perCorpus: SampleRecord['per_corpus'] = ownRecord([...byCorpus].map(([corpus, ids]) => [corpus, { sampled: ids.filter((id) => chosen.has(id)).length, of: ids.length }] as const));
  return {
    dialogues: sampled,
    record: { fraction: spec.fraction.text, value: spec.fraction.value, mix: spec.mix, seed: spec.seed, per_corpus: perCorpus, dialogues: [...chosen].sort() },
  };
}

/** Why an index's sample is not the one asked for (undefined: the same), for a fraction export to refuse. */
export function sampleMismatch(indexSample: SampleRecord | null | undefined, wanted: SampleRecord): string | undefined {
  const describe = (s: Pick<SampleRecord, 'fraction' | 'mix' | 'seed'>) => `--fraction ${s.fraction} --mix ${s.mix} --seed ${s.seed}`;
  if (!indexSample) {
    return `the index holds all its training data, not a sample: the demonstrations of a ${describe(wanted)} export would show labels from outside the sample; build the index with ${describe(wanted)}`;
  }
  if (Math.abs(indexSample.value - wanted.value) > 1e-12 || indexSample.mix !== wanted.mix || indexSample.seed !== wanted.seed) {
    return `the index was built from ${describe(indexSample)}, this export asks for ${describe(wanted)}`;
  }
  const have = new Set(indexSample.dialogues);
  const missing = wanted.dialogues.filter((id) => !have.has(id));
  if (missing.length === wanted.dialogues.length) {
    return `none of these dialogues is in the index's sample (e.g. ${missing[0]}): a fraction export samples the split the index was sampled from; export other splits (test, dev) without --fraction, their demonstrations then come from the sample`;
  }
  const extra = indexSample.dialogues.length - (wanted.dialogues.length - missing.length);
  if (missing.length || extra) {
    return `the index's sample (${describe(indexSample)}) differs from this one's by ${missing.length} dialogues missing from the index (e.g. ${missing[0] ?? '-'}) and ${extra} others: built from other corpus files or sources`;
  }
  return undefined;
}
