/**
 * Issue 26's identity check on any index (test/serving-memory.test.ts does it on MELD in the suite; this is for the
 * 1M index `npm run scale` builds, too large for a test):
 *   npx tsx scripts/bench/same-answers.ts --index <dir> [--queries 1000] [--training 200] [--cache-mb 64] [--data ../shared/data/meld]
 * Opens the index twice: as it serves (vectors read from vectors.f32 as searches need them, through a cache of
 * `--cache-mb`) and as before (every vector read into the heap at open). `--queries` distinct MELD test and dev
 * utterances go through topk (k=8), per-label (k=2), mmr (k=5) and a filter on the index's two rarest labels (k=5);
 * `--training` of the index's own rows, one per dialogue spread over the index, through their folds' spaces (k=8,
 * their dialogue excluded, HNSW and exact) where the index is cross-fitted. Every answer must be the same. Prints one
 * JSON line (compared, differing, the first difference) and exits 1 on any difference.
 */
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { join } from 'node:path';
import { loadCorpus } from '../../src/corpus/load.js';
import { createEmbedder } from '../../src/embed/create.js';
import { DemoIndex } from '../../src/index/open.js';
import type { SearchSpace } from '../../src/index/search-space.js';
import { retrieve, retrieveExact } from '../../src/retrieve/retrieve.js';
import type { SelectionOptions } from '../../src/retrieve/select.js';

const { values } = parseArgs({
  options: {
    index: { type: 'string' }, queries: { type: 'string', default: '1000' }, training: { type: 'string', default: '200' },
    'cache-mb': { type: 'string', default: '64' }, data: { type: 'string', default: '../shared/data/meld' },
  },
});
if (!values.index) throw new Error('--index <dir> is required');
const log = (s: string) => process.stderr.write(`[same-answers] ${s}\n`);
const t0 = performance.now();

const reference = await DemoIndex.open(values.index, { vectors: 'memory' });
log(`opened with every vector in memory (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
const served = await DemoIndex.open(values.index, { vectorCacheMb: Number(values['cache-mb']) });
log('opened as served');
const embedder = await createEmbedder(reference.manifest.embedder.id);

const held = loadCorpus({ format: 'meld', data: values.data!, splits: ['test', 'dev'] }).dialogues;
const texts = [...new Set(held.flatMap((d) => d.turns.map((t) => t.text)))].slice(0, Number(values.queries));
const rarest = Object.entries(reference.manifest.label_counts).sort((a, b) => a[1] - b[1]).slice(0, 2).map(([label]) => label);
const strategies: SelectionOptions[] = [
  { k: 8, strategy: 'topk' },
  { k: 2, strategy: 'per-label' },
  { k: 5, strategy: 'mmr' },
  { k: 5, strategy: 'topk', labels: rarest },
];

let compared = 0;
const differing: { what: string; served: unknown; reference: unknown }[] = [];
const check = (what: string, a: unknown, b: unknown) => {
  compared += 1;
  if (!isDeepStrictEqual(a, b)) differing.push({ what, served: a, reference: b });
};
const same = (what: string, a: SearchSpace, b: SearchSpace, raw: Float32Array, options: SelectionOptions, exact = false) => {
  const run = exact ? retrieveExact : retrieve;
  check(what, run(a, a.queryVector(raw), options), run(b, b.queryVector(raw), options));
};

check('rows', served.rows.length, reference.rows.length);
for (const [i, raw] of (await embedder.embed(texts)).entries()) {
  for (const options of strategies) same(`query ${i} ${options.strategy}${options.labels ? ' filtered' : ''}`, served, reference, raw, options);
}
log(`${texts.length} queries compared`);

if (reference.crossFitted) {
  // One row per dialogue, dialogues spread evenly over the index.
  const firstOf = new Map<string, number>();
  for (const row of reference.rows) if (!firstOf.has(row.dialogue)) firstOf.set(row.dialogue, row.id);
  const dialogues = [...firstOf.keys()];
  const step = Math.max(1, Math.floor(dialogues.length / Number(values.training)));
  const picked = dialogues.filter((_, i) => i % step === 0).slice(0, Number(values.training)).map((d) => reference.rows[firstOf.get(d)!]);
  const vectors = await embedder.embed(picked.map((row) => row.text));
  for (const [i, row] of picked.entries()) {
    const options: SelectionOptions = { k: 8, strategy: 'topk', excludeDialogues: [row.dialogue] };
    same(`training row ${row.id}`, served.space(row.dialogue), reference.space(row.dialogue), vectors[i], options);
    same(`training row ${row.id} exact`, served.space(row.dialogue), reference.space(row.dialogue), vectors[i], options, true);
  }
  log(`${picked.length} training rows compared in their folds' spaces`);
}
await embedder.close?.();
served.close();
reference.close();

console.log(JSON.stringify({ index: join(values.index), rows: reference.rows.length, compared, differing: differing.length, first_difference: differing[0],
  seconds: Number(((performance.now() - t0) / 1000).toFixed(1)) }));
process.exit(differing.length === 0 ? 0 : 1);
