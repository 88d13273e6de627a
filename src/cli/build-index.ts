import { loadCorpus, type CorpusFormat } from '../corpus/load.js';
import { createEmbedder } from '../embed/create.js';
import { labelScheme } from '../corpus/labels.js';
import { buildIndex, DEFAULT_HNSW, DEFAULT_LDA_BLEND, DEFAULT_LDA_SHRINKAGE } from '../index/build.js';
import type { Manifest } from '../index/manifest.js';
import { progressBar } from './progress.js';

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
  /** auto: LDA for single-label ERC corpora with a known label scheme (MELD, EmoryNLP, IEMOCAP), none otherwise. */
  projection?: 'auto' | 'none' | 'lda';
  ldaShrinkage?: number;
  ldaBlend?: number;
}

function useLda(choice: 'auto' | 'none' | 'lda', corpus: string): boolean {
  if (choice !== 'auto') return choice === 'lda';
  const scheme = labelScheme(corpus);
  return scheme !== undefined && !scheme.multiLabel && corpus !== 'sample';
}

/** Loads a corpus, reports skipped rows, embeds with a progress bar and writes the index atomically. */
export async function runBuild(options: BuildCommandOptions): Promise<Manifest> {
  const corpus = loadCorpus({ format: options.format, data: options.data, splits: options.splits, name: options.corpusName });
  const count = corpus.dialogues.reduce((n, d) => n + d.turns.length, 0);
  console.error(`loaded ${corpus.corpus} ${options.splits.join('+')}: ${corpus.dialogues.length} dialogues, ${count} utterances`);
  if (corpus.skipped.length > 0) {
    console.error(`skipped ${corpus.skipped.length} rows:`);
    for (const s of corpus.skipped.slice(0, 20)) console.error(`  ${s.file}:${s.line}: ${s.reason}`);
    if (corpus.skipped.length > 20) console.error(`  ... and ${corpus.skipped.length - 20} more`);
  }
  const embedder = await createEmbedder(options.embedder);
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
      ...(useLda(options.projection ?? 'auto', corpus.corpus)
        ? { projection: { kind: 'lda' as const, shrinkage: options.ldaShrinkage ?? DEFAULT_LDA_SHRINKAGE, blend: options.ldaBlend ?? DEFAULT_LDA_BLEND } }
        : {}),
      hnsw: {
        M: options.M ?? DEFAULT_HNSW.M,
        efConstruction: options.efConstruction ?? DEFAULT_HNSW.efConstruction,
        efSearch: options.efSearch ?? DEFAULT_HNSW.efSearch,
      },
      onProgress: bar.update,
    });
    bar.stop();
    console.error(`wrote ${options.out}: ${manifest.count} utterances in ${manifest.build_seconds}s (${(manifest.count / manifest.build_seconds).toFixed(0)} utterances/s)`);
    return manifest;
  } finally {
    bar.stop();
    await embedder.close?.();
  }
}
