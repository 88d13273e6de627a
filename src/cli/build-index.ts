import { resolve } from 'node:path';
import { loadCorpus, type CorpusFormat } from '../corpus/load.js';
import { createEmbedder } from '../embed/create.js';
import { buildIndex, DEFAULT_HNSW, DEFAULT_LDA_BLEND, DEFAULT_LDA_SHRINKAGE } from '../index/build.js';
import { candidateName } from '../index/choose-space.js';
import type { Manifest } from '../index/manifest.js';
import type { SpaceRequest } from '../index/space.js';
import { progressBar } from './progress.js';
import { assertBuildableOut } from '../index/out-guard.js';

export interface BuildCommandOptions {
  format: CorpusFormat;
  data: string;
  splits: string[];
  embedder: string;
  out: string;
  name?: string;
  corpusName?: string;
  batchSize: number;
  M?: number;
  efConstruction?: number;
  efSearch?: number;
  /** auto: chosen by cross-validation on the training labels (any single-label corpus); none; lda (forced). */
  projection?: 'auto' | 'none' | 'lda';
  ldaShrinkage?: number;
  ldaBlend?: number;
}

/** `--lda-blend` or `--lda-shrinkage` force LDA as `--projection lda` does; `auto` leaves the choice to the data. */
export function spaceRequest(o: Pick<BuildCommandOptions, 'projection' | 'ldaShrinkage' | 'ldaBlend'>): SpaceRequest {
  const choice = o.projection ?? 'auto';
  if (choice === 'none') return { kind: 'none' };
  if (choice === 'lda' || o.ldaBlend !== undefined || o.ldaShrinkage !== undefined) {
    return { kind: 'lda', shrinkage: o.ldaShrinkage ?? DEFAULT_LDA_SHRINKAGE, blend: o.ldaBlend ?? DEFAULT_LDA_BLEND };
  }
  return { kind: 'auto' };
}

/** The build's account of its space: the cross-validation table and verdict, or why there was none. */
export function describeSpace(manifest: Manifest): string[] {
  const s = manifest.space_selection;
  if (!s) return [];
  if (s.method !== 'cross-validation') return [`space: ${manifest.projection ? 'lda' : 'raw'} (${s.reason})`];
  const lines = [`space chosen by ${s.folds}-fold cross-validation by dialogue (kNN k=${s.k}, ${s.seconds}s):`, '  candidate            W-F1   precision@10   per fold W-F1'];
  for (const row of s.table) {
    const precision = row.fold_precision.every((p) => p !== null) ? (row.fold_precision.reduce((a, b) => a! + b!, 0)! / row.fold_precision.length).toFixed(2) : '-';
    lines.push(`  ${candidateName(row.candidate).padEnd(18)} ${row.mean_wf1?.toFixed(2).padStart(6) ?? '     -'}   ${precision.padStart(12)}   ${row.fold_wf1.map((x) => x?.toFixed(1) ?? '-').join(' ')}`);
  }
  lines.push(`  -> ${candidateName(s.chosen)}: ${s.reason}`);
  if (manifest.cross_fit) lines.push(`  training utterances get demonstrations from their fold's space (${manifest.cross_fit.folds} folds; cross_fit=false turns it off)`);
  return lines;
}

/** Loads a corpus, reports skipped rows, embeds with a progress bar and writes the index atomically. */
export async function runBuild(options: BuildCommandOptions): Promise<Manifest> {
  assertBuildableOut(resolve(options.out)); // before loading and embedding; buildIndex checks again
  const corpus = loadCorpus({ format: options.format, data: options.data, splits: options.splits, name: options.corpusName });
  const count = corpus.dialogues.reduce((n, d) => n + d.turns.length, 0);
  console.error(`loaded ${corpus.corpus} ${options.splits.join('+')}: ${corpus.dialogues.length} dialogues, ${count} utterances`);
  if (corpus.skipped.length > 0) {
    console.error(`skipped ${corpus.skipped.length} rows:`);
    for (const s of corpus.skipped.slice(0, 20)) console.error(`  ${s.file}:${s.line}: ${s.reason}`);
    if (corpus.skipped.length > 20) console.error(`  ... and ${corpus.skipped.length - 20} more`);
  }
  const embedder = await createEmbedder(options.embedder);
  if (embedder.description) console.error(`embedder ${embedder.id}: ${embedder.description}`);
  const bar = progressBar(`embedding (${embedder.id})`);
  try {
    const manifest = await buildIndex({
      dialogues: corpus.dialogues,
      corpus: corpus.corpus,
      splits: options.splits,
      embedder,
      out: options.out,
      name: options.name,
      batchSize: options.batchSize,
      skippedRows: corpus.skipped.length,
      projection: spaceRequest(options),
      hnsw: {
        M: options.M ?? DEFAULT_HNSW.M,
        efConstruction: options.efConstruction ?? DEFAULT_HNSW.efConstruction,
        efSearch: options.efSearch ?? DEFAULT_HNSW.efSearch,
      },
      onProgress: bar.update,
    });
    bar.stop();
    for (const line of describeSpace(manifest)) console.error(line);
    console.error(`wrote ${options.out}: ${manifest.count} utterances in ${manifest.build_seconds}s (${(manifest.count / manifest.build_seconds).toFixed(0)} utterances/s)`);
    return manifest;
  } finally {
    bar.stop();
    await embedder.close?.();
  }
}
