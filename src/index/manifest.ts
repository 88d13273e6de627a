import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { z } from 'zod';
import { LabelMapSchema } from '../corpus/label-map.js';
import { ownRecordSchema } from '../corpus/own-keys.js';
import { FingerprintSchema } from '../embed/fingerprint.js';
import { CORPUS_FORMATS } from '../corpus/load.js';
import { MIXES } from '../corpus/sample.js';
import { LABEL_SPACES } from '../corpus/sources.js';

export const INDEX_FORMAT_VERSION = 1;
export const FILES = {
  hnsw: 'hnsw.bin', vectors: 'vectors.f32', meta: 'meta.sqlite', manifest: 'manifest.json', projection: 'projection.f32',
  /** Per-fold projections and every row's LDA part in each fold's space (cross-fitted demonstrations). */
  crossFit: 'crossfit.f32',
  /** The manifest's own checksum, in `sha256sum` format (the manifest holds the other files' checksums). */
  manifestSum: 'manifest.sha256',
} as const;

export const HnswParamsSchema = z.object({
  space: z.literal('cosine'),
  M: z.number().int().positive(),
  efConstruction: z.number().int().positive(),
  efSearch: z.number().int().positive(),
  seed: z.number().int(),
});
export type HnswParams = z.infer<typeof HnswParamsSchema>;

const CandidateSchema = z.union([
  z.object({ projection: z.literal('none') }),
  z.object({ projection: z.literal('lda'), shrinkage: z.number(), blend: z.number() }),
]);

export const SpaceSelectionSchema = z.union([
  z.object({
    method: z.literal('cross-validation'),
    folds: z.number().int(),
    k: z.number().int(),
    table: z.array(z.object({
      candidate: CandidateSchema,
      fold_wf1: z.array(z.number().nullable()),
      mean_wf1: z.number().nullable(),
      fold_precision: z.array(z.number().nullable()),
    })),
    chosen: CandidateSchema,
    gain: z.number(),
    gain_sd: z.number(),
    reason: z.string(),
    /** Held-out rows per fold and how many were scored (a stratified sample beyond cap); absent: built before the cap. */
    held_out: z.object({ cap: z.number().int().nonnegative(), rows: z.array(z.number().int()), scored: z.array(z.number().int()) }).optional(),
    seconds: z.number(),
  }),
  z.object({ method: z.enum(['forced', 'not-applicable']), reason: z.string() }),
]);

export const ManifestSchema = z.object({
  format_version: z.literal(INDEX_FORMAT_VERSION),
  name: z.string(),
  /**
   * The embedder: its id (spec), dimension, and the fingerprint of the model files it loaded (embed/fingerprint.ts),
   * checked at open; null: built before fingerprints, opened without the check.
   */
  embedder: z.object({
    id: z.string(), dim: z.number().int().positive(), fingerprint: FingerprintSchema.nullable().default(null),
    /** Characters of one text the embedder read (ERC_DEMOS_MAX_EMBED_CHARS at build); null: not recorded. */
    max_chars: z.number().int().positive().nullable().default(null),
  }),
  corpus: z.string(),
  splits: z.array(z.string()),
  count: z.number().int().nonnegative(),
  labels: z.array(z.string()),
  /** Rows per label (prototype-less, as every record keyed by a corpus' names: own-keys.ts). */
  label_counts: ownRecordSchema(z.string(), z.number().int()),
  multi_label: z.boolean(),
  /** Preceding turns embedded with each utterance (0: the utterance alone). */
  context_window: z.number().int().nonnegative(),
  /** A learned projection applied to every vector (stored and query) before search; null: the raw embedding space. */
  projection: z.object({ kind: z.literal('lda'), dim_in: z.number().int().positive(), dim_out: z.number().int().positive(), shrinkage: z.number(), blend: z.number().min(0).max(1).default(0) }).nullable().default(null),
  /** How the space was chosen: the cross-validation table and its verdict, or why none was run. */
  space_selection: SpaceSelectionSchema.nullable().default(null),
  /**
   * Folds of the cross-validation (dialogues dealt by folds.ts) and the LDA dimension of each fold's projection,
   * stored in FILES.crossFit; null: no cross-fitted spaces (raw space, or a fold that cannot be fitted).
   */
  cross_fit: z.object({ folds: z.number().int().min(2), seed: z.number().int(), dims: z.array(z.number().int().positive()) }).nullable().default(null),
  hnsw: HnswParamsSchema,
  /** native: each row's own corpus labels; unified: the 9 Feeling-Wheel labels (rows keep their own as source labels). */
  label_space: z.enum(LABEL_SPACES).default('native'),
  /** The corpora pooled in this index, in build order (null: built before pools existed, one corpus). */
  sources: z.array(z.object({
    corpus: z.string(), format: z.enum(CORPUS_FORMATS), dialogues: z.number().int(), utterances: z.number().int(), skipped_rows: z.number().int(),
  })).nullable().default(null),
  /** Per corpus, the map its labels went through into the unified space (null: native labels). */
  label_map: LabelMapSchema.nullable().default(null),
  /** A data-scaling index: the fraction, mix and seed it was sampled by and the dialogues it holds (null: all). */
  sample: z.object({
    fraction: z.string(), value: z.number(), mix: z.enum(MIXES), seed: z.number().int(),
    per_corpus: ownRecordSchema(z.string(), z.object({ sampled: z.number().int(), of: z.number().int() })),
    dialogues: z.array(z.string()),
  }).nullable().default(null),
  /**
   * The sample of whole dialogues the space was chosen and fitted on, where the corpus had more utterances than
   * ERC_DEMOS_SPACE_FIT_ROWS (null: all of them).
   */
  space_sample: z.object({ rows: z.number().int(), of: z.number().int(), dialogues: z.number().int(), seed: z.number().int() }).nullable().default(null),
  built_at: z.string(),
  build_seconds: z.number(),
  skipped_rows: z.number().int().nonnegative(),
  /** Utterances longer than embedder.max_chars, embedded from their first max_chars characters (stored whole). */
  truncated_rows: z.number().int().nonnegative().default(0),
  checksums: z.record(z.string(), z.string()),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(path, 'r');
  try {
    // One buffer read into again and again: a stream's chunks were 64 KB of garbage each, the whole index's size per
    // open, and SIGHUP reloads then left RSS to the collector's timing.
    const buffer = Buffer.allocUnsafe(HASH_READ_BYTES);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

/** Bytes of a file read at a time to hash it. */
const HASH_READ_BYTES = 1 << 20;

/** The line of FILES.manifestSum for a manifest's bytes (`sha256sum -c manifest.sha256` checks it too). */
export function manifestSumLine(manifestBytes: Uint8Array): string {
  return `${createHash('sha256').update(manifestBytes).digest('hex')}  ${FILES.manifest}\n`;
}

/** The corpora an index holds: its sources', or its one corpus. */
/** What naming an index's corpora needs of its manifest. */
export interface CorpusFacts {
  corpus: string;
  sources?: readonly { corpus: string }[] | null;
}

export function indexCorpora(manifest: CorpusFacts): string[] {
  return manifest.sources?.map((s) => s.corpus) ?? [manifest.corpus];
}

/**
 * Whether rows of `corpus` may be in the index, so that a target of that corpus must not see its own dialogue: the
 * index's own name (one corpus, or the pool's), or one of its sources.
 */
export function holdsCorpus(manifest: CorpusFacts, corpus: string): boolean {
  return corpus === manifest.corpus || indexCorpora(manifest).includes(corpus);
}

/** Whether the index names its dialogues `<corpus>/<id>` (a pool of several sources), so a loader names them alike. */
export function prefixesDialogues(manifest: Pick<CorpusFacts, 'sources'>): boolean {
  return (manifest.sources?.length ?? 1) > 1;
}
