import type { Dialogue } from '../corpus/types.js';
import type { Embedder } from '../embed/types.js';
import { holdsCorpus } from '../index/manifest.js';
import type { DemoIndex } from '../index/open.js';
import { indexedCopies } from '../retrieve/leakage.js';
import { retrieve, retrieveExact } from '../retrieve/retrieve.js';
import { classificationReport, tieAwareHits, weightedVote, type ClassificationReport } from '../metrics.js';

export interface EvalOptions {
  k: number;
  /** Which search the metrics use: exact (brute force) or the index's HNSW. Recall of HNSW is reported either way. */
  search: 'exact' | 'hnsw';
  /** Score deduplicated neighbours (as `dedup` demonstrations would be). */
  dedup?: boolean;
  batchSize?: number;
  /**
   * Utterances of dialogues the index holds (evaluating its own training split) are searched in the space fitted
   * without their fold (default true), as training prompts' demonstrations are; their own dialogue is always left out.
   */
  crossFit?: boolean;
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
  /** Targets whose own dialogue is in the index (and was left out of their neighbours). */
  indexed_targets: number;
  /** Targets searched in their fold's cross-fitted space. */
  cross_fitted_targets: number;
  /** Share (%) of the neighbours from a corpus other than their target's (a pooled index). */
  other_corpus_share: number;
}

/**
 * Demonstration quality without an LLM: for each utterance of an evaluation split, its k nearest training
 * utterances; label precision@k (share of them carrying the target's gold label) and the kNN prediction (their
 * similarity-weighted majority label) scored with weighted-F1 (InstructERC's metric), accuracy and macro-F1.
 * Targets without a label are left out. A target whose dialogue the index holds (the index's own training split)
 * never sees its own dialogue, and is searched in its fold's space (options.crossFit). Queries/s covers embedding
 * and search.
 */
export async function evaluateRetrieval(index: DemoIndex, embedder: Embedder, dialogues: readonly Dialogue[], options: EvalOptions): Promise<EvalResult> {
  // A dialogue the index holds under another id (the same turns: a dev file indexed as train) is treated as held
  // under that id: left out of its own neighbours, searched in its fold's space.
  const heldAs = (d: Dialogue) => (holdsCorpus(index.manifest, d.corpus) && index.dialogueRows(d.id).length === 0 ? indexedCopies(index, d.turns)[0] ?? d.id : d.id);
  const turns = dialogues.flatMap((d) => {
    const dialogue = heldAs(d);
    return d.turns.filter((t) => t.labels.length > 0).map((turn) => ({ turn, dialogue, corpus: d.corpus }));
  });
  let indexed = 0;
  let crossFitted = 0;
  const batchSize = options.batchSize ?? 256;
  const gold: string[] = [];
  const predicted: string[] = [];
  let sameLabel = 0;
  let recallHits = 0;
  let shown = 0;
  let fromOtherCorpus = 0;
  const started = performance.now();
  for (let start = 0; start < turns.length; start += batchSize) {
    const batch = turns.slice(start, start + batchSize);
    const embedded = await embedder.embed(batch.map((t) => t.turn.text));
    batch.forEach(({ turn, dialogue, corpus }, i) => {
      const own = holdsCorpus(index.manifest, corpus) && index.dialogueRows(dialogue).length > 0 ? dialogue : undefined;
      const space = index.space(own, options.crossFit !== false);
      if (own !== undefined) indexed += 1;
      if (space !== index) crossFitted += 1;
      const vector = space.queryVector(embedded[i]);
      const selection = { k: options.k, strategy: 'topk' as const, dedup: options.dedup, ...(own !== undefined ? { excludeDialogues: [own] } : {}) };
      const exact = retrieveExact(space, vector, selection);
      const approx = retrieve(space, vector, selection);
      recallHits += tieAwareHits(approx, exact);
      const neighbours = options.search === 'exact' ? exact : approx;
      const target = turn.labels[0];
      sameLabel += neighbours.filter((n) => n.label === target).length;
      shown += neighbours.length;
      fromOtherCorpus += neighbours.filter((n) => n.corpus !== corpus).length;
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
    indexed_targets: indexed,
    cross_fitted_targets: crossFitted,
    other_corpus_share: Number(((100 * fromOtherCorpus) / (shown || 1)).toFixed(2)),
  };
}
