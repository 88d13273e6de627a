/**
 * What diversity costs and buys: top-k against maximal marginal relevance at several lambdas, k=10, for the test
 * utterances of MELD and EmoryNLP on their default train indexes (built under indexes/ when missing, as
 * scripts/research/quality-report.ts does). Per configuration: label precision@k (the share of demonstrations whose label is
 * the query's gold label), distinct texts among the k (case, spacing and punctuation aside), mean pairwise cosine
 * between the k (in the index's search space), and ms per query (HNSW search plus selection).
 *   npx tsx scripts/research/mmr-report.ts [--data ../shared/data] [--json]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runBuild } from '../../src/cli/build-index.js';
import { dot } from '../../src/embed/types.js';
import { loadCorpus, type CorpusFormat } from '../../src/corpus/load.js';
import { retrieve } from '../../src/retrieve/retrieve.js';
import { textKey, type SelectionOptions } from '../../src/retrieve/select.js';
import { DemoService } from '../../src/service/service.js';

const { values } = parseArgs({ options: { data: { type: 'string', default: '../shared/data' }, json: { type: 'boolean', default: false } } });
const K = 10;
const CONFIGS: { name: string; selection: SelectionOptions }[] = [
  { name: 'topk', selection: { k: K, strategy: 'topk' } },
  { name: 'mmr lambda 0.9', selection: { k: K, strategy: 'mmr', lambda: 0.9 } },
  { name: 'mmr lambda 0.7', selection: { k: K, strategy: 'mmr', lambda: 0.7 } },
  { name: 'mmr lambda 0.5 (default)', selection: { k: K, strategy: 'mmr', lambda: 0.5 } },
  { name: 'mmr lambda 0.3', selection: { k: K, strategy: 'mmr', lambda: 0.3 } },
  { name: 'topk dedup', selection: { k: K, strategy: 'topk', dedup: true } },
];

const rows: Record<string, string | number>[] = [];
for (const corpus of ['meld', 'emorynlp'] as CorpusFormat[]) {
  const data = join(values.data!, corpus);
  const dir = join('indexes', `${corpus}-train-use-lite-lda-blend`);
  if (!existsSync(join(dir, 'manifest.json'))) {
    await runBuild({ format: corpus, data, splits: ['train'], embedder: 'use-lite', out: dir, name: corpus, batchSize: 1024, projection: 'lda', ldaBlend: 0.4 });
  }
  const service = await DemoService.load([dir]);
  const { index } = service.index();
  const turns = loadCorpus({ format: corpus, data, splits: ['test'] }).dialogues.flatMap((d) => d.turns).filter((t) => t.labels.length > 0);
  const vectors = (await service.embedderFor(index).embed(turns.map((t) => t.text))).map((v) => index.queryVector(v));
  for (const config of CONFIGS) {
    let hits = 0;
    let returned = 0;
    let distinct = 0;
    let pairSum = 0;
    let pairs = 0;
    const started = performance.now();
    const results = vectors.map((v) => retrieve(index, v, config.selection));
    const ms = (performance.now() - started) / vectors.length;
    results.forEach((demos, q) => {
      returned += demos.length;
      hits += demos.filter((d) => d.label === turns[q].labels[0]).length;
      distinct += new Set(demos.map((d) => textKey(d.text))).size;
      for (let i = 0; i < demos.length; i++) {
        for (let j = i + 1; j < demos.length; j++) {
          pairSum += dot(index.vector(demos[i].id), index.vector(demos[j].id));
          pairs += 1;
        }
      }
    });
    rows.push({
      corpus, configuration: config.name, queries: vectors.length,
      precision_at_k: Number(((100 * hits) / returned).toFixed(2)),
      distinct_texts: Number((distinct / vectors.length).toFixed(2)),
      mean_pairwise_cosine: Number((pairSum / pairs).toFixed(3)),
      ms_per_query: Number(ms.toFixed(2)),
    });
    console.error(JSON.stringify(rows[rows.length - 1]));
  }
  await service.close();
}
if (values.json) console.log(JSON.stringify(rows));
else {
  console.log('| corpus | configuration | precision@10 | distinct texts of 10 | mean pairwise cosine | ms per query |\n|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.corpus} | ${r.configuration} | ${r.precision_at_k} | ${r.distinct_texts} | ${r.mean_pairwise_cosine} | ${r.ms_per_query} |`);
}
