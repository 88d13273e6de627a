import { loadSplitForIndex, type IndexSplitFlags } from './index-sources.js';
import { evaluateRetrieval } from '../eval/evaluate.js';
import { DemoService } from '../service/service.js';
import { progressBar } from './progress.js';
import { batchSettings } from './batch-settings.js';

export interface EvalCommandOptions extends IndexSplitFlags {
  k: number;
  search: 'exact' | 'hnsw';
  dedup?: boolean;
  crossFit?: boolean;
  json?: boolean;
}

/** erc-demos eval: a table for people, or one JSON object (--json) for scripts. */
export async function runEval(o: EvalCommandOptions): Promise<void> {
  const service = await DemoService.load([o.index], { settings: batchSettings() });
  const { index } = service.index();
  const corpus = loadSplitForIndex(index.manifest, o);
  const bar = progressBar('eval');
  const result = await evaluateRetrieval(index, service.embedderFor(index), corpus.dialogues, { k: o.k, search: o.search, dedup: o.dedup, crossFit: o.crossFit !== false, onProgress: bar.update });
  bar.stop();
  if (o.json) {
    console.log(JSON.stringify({ index: index.name, corpus: corpus.corpus, split: o.split, ...result }));
    return;
  }
  console.log(`${index.name} on ${corpus.corpus} ${o.split} (n=${result.n}, k=${result.k}, ${result.search} search, ${index.manifest.embedder.id})`);
  console.log(`  kNN weighted-F1  ${result.knn_weighted_f1.toFixed(2)}`);
  console.log(`  accuracy         ${result.accuracy.toFixed(2)}`);
  console.log(`  macro-F1         ${result.macro_f1.toFixed(2)}`);
  console.log(`  precision@${result.k}     ${result.precision_at_k.toFixed(2)}`);
  console.log(`  HNSW recall@${result.k}  ${result.hnsw_recall_at_k.toFixed(4)}`);
  if (index.manifest.sources && index.manifest.sources.length > 1) console.log(`  from other corpora ${result.other_corpus_share.toFixed(2)}% of the neighbours`);
  console.log(`  queries/s        ${result.queries_per_s}`);
  if (result.indexed_targets > 0) {
    console.log(`  ${result.indexed_targets} targets are indexed utterances: own dialogue left out, ${result.cross_fitted_targets} searched in their fold's space (cross-fitted)`);
  }
  console.log('  label        precision  recall     F1  support');
  for (const l of result.per_label) {
    console.log(`  ${l.label.padEnd(12)} ${l.precision.toFixed(2).padStart(9)} ${l.recall.toFixed(2).padStart(7)} ${l.f1.toFixed(2).padStart(6)} ${String(l.support).padStart(8)}`);
  }
}
