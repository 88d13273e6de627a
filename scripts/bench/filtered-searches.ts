/**
 * Label-filtered and per-label searches, timed and fingerprinted, with one checkout's code (so two checkouts can be
 * compared on the same index: the same answers, and how long they took):
 *   npx tsx scripts/bench/filtered-searches.ts --index <dir> [--queries 300] [--checkout <root>] [--data ../shared/data/meld]
 * For each of `--queries` distinct MELD test utterances: per-label (k=2, every label); per-label over two labels with
 * a training dialogue excluded (k=3); top-k under one label (k=5), and under another with a dialogue excluded and
 * dedup; and a training utterance in its fold's space (cross-fitted indexes), per-label and under one label, its
 * dialogue excluded. Prints one JSON line: the answers' count and SHA-256, the milliseconds they took in all, and
 * the median milliseconds of each kind of selection over every query but the first (which makes what a checkout
 * keeps per filter).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { IndexedRow } from '../../src/index/rows.js';
import { median } from './median.js';
import type { SearchSpace } from '../../src/index/search-space.js';
import type { SelectionOptions } from '../../src/retrieve/select.js';

const { values } = parseArgs({
  options: {
    index: { type: 'string' }, queries: { type: 'string', default: '300' },
    checkout: { type: 'string', default: resolve(import.meta.dirname, '..', '..') }, data: { type: 'string', default: '../shared/data/meld' },
  },
});
if (!values.index) throw new Error('--index <dir> is required');
const root = resolve(values.checkout!);
// The checkout's own modules (its code is what is timed); this file's types describe them.
const { DemoIndex } = (await import(`${root}/src/index/open.ts`)) as typeof import('../../src/index/open.js');
const { createEmbedder } = (await import(`${root}/src/embed/create.ts`)) as typeof import('../../src/embed/create.js');
const { retrieve } = (await import(`${root}/src/retrieve/retrieve.ts`)) as typeof import('../../src/retrieve/retrieve.js');
const { loadCorpus } = (await import(`${root}/src/corpus/load.ts`)) as typeof import('../../src/corpus/load.js');

const index = await DemoIndex.open(values.index);
const embedder = await createEmbedder(index.manifest.embedder.id);
const held = loadCorpus({ format: 'meld', data: values.data!, splits: ['test'] }).dialogues;
const texts = [...new Set(held.flatMap((d) => d.turns.map((t) => t.text)))].slice(0, Number(values.queries));
const vectors = await embedder.embed(texts);
const labels = index.labels;
const rows: readonly IndexedRow[] = index.rows;
const answers: unknown[] = [];
let ms = 0;
const byKind = new Map<string, number[]>();
const timed = (kind: string, space: SearchSpace, query: Float32Array, options: SelectionOptions) => {
  const started = performance.now();
  answers.push(retrieve(space, query, options));
  const took = performance.now() - started;
  ms += took;
  if (answers.length > 6) byKind.set(kind, [...(byKind.get(kind) ?? []), took]);
};
for (const [i, vector] of vectors.entries()) {
  const query = index.queryVector(vector);
  const training = rows[(i * 7919) % rows.length];
  const label = (n: number) => labels[(i + n) % labels.length];
  timed('per_label', index, query, { k: 2, strategy: 'per-label' });
  timed('per_label_two_labels_excluding', index, query, { k: 3, strategy: 'per-label', labels: [label(0), label(3)], excludeDialogues: [training.dialogue] });
  timed('topk_label', index, query, { k: 5, strategy: 'topk', labels: [label(1)] });
  timed('topk_label_excluding_dedup', index, query, { k: 5, strategy: 'topk', labels: [label(0)], excludeDialogues: [training.dialogue], dedup: true });
  const space = index.space(training.dialogue);
  const [own] = await embedder.embed([training.text]);
  timed('fold_per_label', space, space.queryVector(own), { k: 2, strategy: 'per-label', excludeDialogues: [training.dialogue] });
  timed('fold_topk_label', space, space.queryVector(own), { k: 4, strategy: 'topk', labels: [label(0)], excludeDialogues: [training.dialogue] });
}
await embedder.close?.();
index.close();
console.log(JSON.stringify({ checkout: root, index: resolve(values.index), answers: answers.length,
  sha256: createHash('sha256').update(JSON.stringify(answers)).digest('hex'), ms: Math.round(ms),
  median_ms: Object.fromEntries([...byKind].map(([kind, times]) => [kind, Number(median(times).toFixed(2))])) }));
process.exit(0);
