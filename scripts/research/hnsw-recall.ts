/**
 * HNSW recall@k against brute-force search: embeds the utterances of one split of a corpus and compares the top-k
 * of the index's search with exact search over the same stored vectors.
 *   npx tsx scripts/research/hnsw-recall.ts --index indexes/meld-train-use-lite --corpus meld --data ../shared/data/meld --split test -k 10
 */
import { parseArgs } from 'node:util';
import { loadCorpus, type CorpusFormat } from '../../src/corpus/load.js';
import { createEmbedder } from '../../src/embed/create.js';
import { tieAwareHits } from '../../src/metrics.js';
import { DemoIndex } from '../../src/index/open.js';

const { values } = parseArgs({
  options: {
    index: { type: 'string', default: 'indexes/meld-train-use-lite' },
    corpus: { type: 'string', default: 'meld' },
    data: { type: 'string', default: '../shared/data/meld' },
    split: { type: 'string', default: 'test' },
    k: { type: 'string', default: '10' },
    ef: { type: 'string' },
  },
});
const k = Number(values.k);
const index = await DemoIndex.open(values.index!, values.ef ? { efSearch: Number(values.ef) } : {});
const embedder = await createEmbedder(index.manifest.embedder.id);
const corpus = loadCorpus({ format: values.corpus as CorpusFormat, data: values.data!, splits: [values.split!] });
const texts = corpus.dialogues.flatMap((d) => d.turns.map((t) => t.text));
const vectors: Float32Array[] = [];
for (let i = 0; i < texts.length; i += 256) vectors.push(...(await embedder.embed(texts.slice(i, i + 256))).map((v) => index.queryVector(v)));

// MELD repeats many utterances verbatim ("Okay." hundreds of times): equal vectors tie, and any of them is a
// correct answer. A hit counts when its score reaches the exact k-th score (tie-aware); by-id recall is printed too.
let found = 0;
let foundById = 0;
let hnswMs = 0;
let exactMs = 0;
for (const v of vectors) {
  let t = performance.now();
  const approx = index.search(v, k);
  hnswMs += performance.now() - t;
  t = performance.now();
  const exactHits = index.exactSearch(v, k);
  exactMs += performance.now() - t;
  const exact = new Set(exactHits.map((h) => h.id));
  found += tieAwareHits(approx, exactHits);
  foundById += approx.filter((h) => exact.has(h.id)).length;
}
console.log(JSON.stringify({
  index: values.index, queries: vectors.length, k, ef_search: index.efSearch,
  hnsw_recall_at_k: Number((found / (vectors.length * k)).toFixed(4)),
  hnsw_recall_at_k_by_id: Number((foundById / (vectors.length * k)).toFixed(4)),
  hnsw_ms_per_query: Number((hnswMs / vectors.length).toFixed(3)),
  exact_ms_per_query: Number((exactMs / vectors.length).toFixed(3)),
}));
