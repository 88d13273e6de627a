/**
 * The index alone, for scripts/bench/bench.ts: usearch (exact and HNSW) beside hnswlib-node (what the service uses)
 * on our index's vectors, queried with MELD test utterances embedded by our embedder, one query at a time on one
 * thread (queries/s), with build times (usearch with one thread and with every core; hnswlib-node has one) and
 * recall@10 against the exact top 10 (tie-aware, as the project's own recall: src/metrics.ts). Both graphs get our
 * build's parameters: M (connectivity) 16, efConstruction (expansion_add) 200, ef (expansion_search) 128; hnswlib-node
 * is measured at ef 10 too, what LangChain's HNSWLib store searches with (it sets no ef). Prints one JSON object.
 *   node --import tsx scripts/bench/peers/index-bench.ts --index <dir> --data ../shared/data/meld [--queries 2000]
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import hnswlib from 'hnswlib-node';
import { exactSearch, Index, MetricKind, ScalarKind } from 'usearch';
import { loadCorpus } from '../../../src/corpus/load.js';
import { createEmbedder } from '../../../src/embed/create.js';
import { DemoIndex } from '../../../src/index/open.js';
import { DEFAULT_HNSW } from '../../../src/index/build.js';
import { tieAwareHits } from '../../../src/metrics.js';

const { values } = parseArgs({ options: { index: { type: 'string' }, data: { type: 'string', default: '../shared/data/meld' }, queries: { type: 'string', default: '2000' } } });
const K = 10;
const index = await DemoIndex.open(values.index!);
const dim = index.manifest.embedder.dim;
const rows = index.rows.filter((r) => !r.removed);
const n = rows.length;
const data = new Float32Array(n * dim);
rows.forEach((r, i) => data.set(index.vector(r.id), i * dim));

const texts = loadCorpus({ format: 'meld', data: values.data!, splits: ['test'] }).dialogues.flatMap((d) => d.turns.map((t) => t.text));
const embedder = await createEmbedder('use-lite', 'batch');
const queries = (await embedder.embed([...new Set(texts)].slice(0, Number(values.queries)))).map((v) => Float32Array.from(v));
await embedder.close?.();
const nq = queries.length;

type Found = { id: number; score: number }[];
const seconds = (since: number) => (performance.now() - since) / 1000;

// Exact: usearch's brute force, one thread, all queries in one call (its batch loop, no per-call overhead).
const packed = new Float32Array(nq * dim);
queries.forEach((q, i) => packed.set(q, i * dim));
let t = performance.now();
const exactAll = exactSearch(data, packed, dim, K, MetricKind.Cos, 1) as { keys: BigUint64Array; distances: Float32Array };
const exactSeconds = seconds(t);
const exact: Found[] = queries.map((_, i) => Array.from({ length: K }, (_, j) => ({ id: Number(exactAll.keys[i * K + j]), score: 1 - exactAll.distances[i * K + j] })));
const recall = (found: Found[]) => found.reduce((s, f, i) => s + tieAwareHits(f, exact[i]), 0) / (nq * K);

/** usearch HNSW with our parameters, built with `threads` (0: every core). */
function usearchIndex(threads: number): { index: Index; seconds: number } {
  const u = new Index({ dimensions: dim, metric: MetricKind.Cos, quantization: ScalarKind.F32, multi: false, connectivity: DEFAULT_HNSW.M, expansion_add: DEFAULT_HNSW.efConstruction, expansion_search: DEFAULT_HNSW.efSearch });
  const keys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
  const started = performance.now();
  u.add(keys, data, threads);
  return { index: u, seconds: seconds(started) };
}
const usearch1 = usearchIndex(1);
const usearchAll = usearchIndex(0);
t = performance.now();
const usearchFound: Found[] = queries.map((q) => {
  const m = usearchAll.index.search(q, K, 1);
  return Array.from(m.keys, (key, j) => ({ id: Number(key), score: 1 - m.distances[j] }));
});
const usearchSeconds = seconds(t);

// hnswlib-node as the service builds it (src/index/build.ts): one thread, seeded.
const h = new hnswlib.HierarchicalNSW('cosine', dim);
t = performance.now();
h.initIndex({ maxElements: n, m: DEFAULT_HNSW.M, efConstruction: DEFAULT_HNSW.efConstruction, randomSeed: DEFAULT_HNSW.seed });
for (let i = 0; i < n; i++) h.addPoint(Array.from(data.subarray(i * dim, (i + 1) * dim)), i);
const hnswBuildSeconds = seconds(t);
function hnswlibSearch(ef: number): { found: Found[]; seconds: number } {
  h.setEf(ef);
  const started = performance.now();
  const found = queries.map((q) => {
    const r = h.searchKnn(Array.from(q), K); // hnswlib-node takes arrays (the service converts each query too)
    return r.neighbors.map((id, j) => ({ id, score: 1 - r.distances[j] }));
  });
  return { found, seconds: seconds(started) };
}
const atOurEf = hnswlibSearch(DEFAULT_HNSW.efSearch);
const atLangChainEf = hnswlibSearch(K);

const r4 = (x: number) => Number(x.toFixed(4));
console.log(JSON.stringify({
  index_rows: n, index_queries: nq, cores: availableParallelism(),
  usearch_exact_qps: Math.round(nq / exactSeconds),
  usearch_hnsw_qps: Math.round(nq / usearchSeconds),
  usearch_hnsw_recall_at_10: r4(recall(usearchFound)),
  usearch_build_s_1_thread: r4(usearch1.seconds),
  usearch_build_s_all_threads: r4(usearchAll.seconds),
  hnswlib_qps: Math.round(nq / atOurEf.seconds),
  hnswlib_recall_at_10: r4(recall(atOurEf.found)),
  hnswlib_build_s: r4(hnswBuildSeconds),
  hnswlib_ef10_qps: Math.round(nq / atLangChainEf.seconds),
  hnswlib_ef10_recall_at_10: r4(recall(atLangChainEf.found)),
}));
