import type { Dialogue } from '../corpus/types.js';
import type { Embedder } from '../embed/types.js';
import type { DemoIndex } from '../index/open.js';
import { retrieve, retrieveExact } from '../retrieve/retrieve.js';
import { classificationReport, tieAwareHits, weightedVote, type ClassificationReport } from './metrics.js';

export interface EvalOptions {
  k: number;
  /** Which search the metrics use: exact (brute force) or the index's HNSW. Recall of HNSW is reported either way. */
  search: 'exact' | 'hnsw';
  /** Score deduplicated neighbours (as `dedup` demonstrations would be). */
  dedup?: boolean;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface EvalResult extends Omit<ClassificationReport, 'weighted_f1'> {
  knn_weighted_f1: number;
  precision_at_k: number;
  hnsw_recall_at_k: number;
  k: number;
  n: number;
  queries_per_s: number;
  search: 'exact' | 'hnsw';
}

/**
 * Demonstration quality without an LLM: for each utterance of an evaluation split, its k nearest training
 * utterances; label precision@k (share of them carrying the target's gold label) and the kNN prediction (their
 * similarity-weighted majority label) scored with weighted-F1 (InstructERC's metric), accuracy and macro-F1.
 * Targets without a label are left out. Queries/s covers embedding and search.
 */
export async function evaluateRetrieval(index: DemoIndex, embedder: Embedder, dialogues: readonly Dialogue[], options: EvalOptions): Promise<EvalResult> {
  const turns = dialogues.flatMap((d) => d.turns.filter((t) => t.labels.length > 0));
  const batchSize = options.batchSize ?? 256;
  const gold: string[] = [];
  const predicted: string[] = [];
  let sameLabel = 0;
  let recallHits = 0;
  let shown = 0;
  const started = performance.now();
  for (let start = 0; start < turns.length; start += batchSize) {
    const batch = turns.slice(start, start + batchSize);
    const vectors = (await embedder.embed(batch.map((t) => t.text))).map((v) => index.queryVector(v));
    batch.forEach((turn, i) => {
      const selection = { k: options.k, strategy: 'topk' as const, dedup: options.dedup };
      const exact = retrieveExact(index, vectors[i], selection);
      const approx = retrieve(index, vectors[i], selection);
      recallHits += tieAwareHits(approx, exact);
      const neighbours = options.search === 'exact' ? exact : approx;
      const target = turn.labels[0];
      sameLabel += neighbours.filter((n) => n.label === target).length;
      shown += neighbours.length;
      gold.push(target);
      predicted.push(weightedVote(neighbours) ?? '');
    });
    options.onProgress?.(Math.min(start + batchSize, turns.length), turns.length);
  }
  const seconds = (performance.now() - started) / 1000;
  const labels = [...new Set([...index.manifest.labels.filter((l) => gold.includes(l)), ...gold])];
  const { weighted_f1, ...report } = classificationReport(gold, predicted, labels);
  return {
    knn_weighted_f1: weighted_f1,
    ...report,
    precision_at_k: Number(((100 * sameLabel) / (shown || 1)).toFixed(2)),
    hnsw_recall_at_k: Number((recallHits / (turns.length * options.k || 1)).toFixed(4)),
    k: options.k,
    n: turns.length,
    queries_per_s: Number((turns.length / seconds).toFixed(1)),
    search: options.search,
  };
}
