/**
 * Per-label selection over an index of many labels (issue 23, item 12):
 *   npx tsx scripts/bench/per-label.ts [--labels 10000] [--index <dir>] [--checkout <root>] [--runs 6]
 * Writes a JSONL corpus of `--labels` utterances, each with a label of its own, and builds it with USE-lite
 * (`--projection none`) into `--index` unless that directory already holds an index; then serves it from the checkout
 * at `--checkout` (default: this one; give another checkout to time it on the same index) and times
 * GET /demonstrations?strategy=per-label&k=1: the server's took_ms and the wall time of the whole answer.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    labels: { type: 'string', default: '10000' },
    index: { type: 'string' },
    checkout: { type: 'string', default: resolve(import.meta.dirname, '..', '..') },
    runs: { type: 'string', default: '6' },
  },
});
const labels = Number(values.labels);
const indexDir = resolve(values.index ?? join(mkdtempSync(join(tmpdir(), 'per-label-')), 'idx'));
const root = resolve(values.checkout!);
const WORDS = ['coffee', 'rent', 'wedding', 'exam', 'spider', 'train', 'guitar', 'dinner', 'phone', 'holiday', 'garden', 'boss', 'cat', 'rain', 'movie', 'party'];

if (!existsSync(join(indexDir, 'manifest.json'))) {
  const { loadCorpus } = await import('../../src/corpus/load.js');
  const { createEmbedder } = await import('../../src/embed/create.js');
  const { buildIndex } = await import('../../src/index/build.js');
  const file = `${indexDir}.jsonl`;
  const lines = Array.from({ length: labels }, (_, i) => JSON.stringify({
    id: `d${i}`, split: 'train', turns: [{ speaker: 'A', text: `The ${WORDS[i % 16]} and the ${WORDS[Math.floor(i / 16) % 16]} number ${i}.`, label: `label${i}` }],
  }));
  writeFileSync(file, `${lines.join('\n')}\n`);
  const corpus = loadCorpus({ format: 'jsonl', data: file, splits: ['train'], name: 'many' });
  const embedder = await createEmbedder('use-lite');
  const started = performance.now();
  await buildIndex({ dialogues: corpus.dialogues, corpus: 'many', splits: ['train'], embedder, out: indexDir, name: 'many', projection: { kind: 'none' } });
  await embedder.close?.();
  console.error(`built ${indexDir}: ${labels} labels in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const { createApp } = (await import(join(root, 'src/server/app.ts'))) as typeof import('../../src/server/app.js');
const { DemoService } = (await import(join(root, 'src/service/service.ts'))) as typeof import('../../src/service/service.js');
const service = await DemoService.load([indexDir]);
const server = createApp(service).listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const took: number[] = [];
const wall: number[] = [];
for (let i = 0; i < Number(values.runs); i++) {
  const started = performance.now();
  const res = await fetch(`${base}/demonstrations?utterance=${encodeURIComponent(`The coffee and the rain number ${i}.`)}&strategy=per-label&k=1`);
  const body = (await res.json()) as { took_ms: number; demonstrations: unknown[] };
  wall.push(performance.now() - started);
  took.push(body.took_ms);
  if (res.status !== 200 || body.demonstrations.length !== labels) throw new Error(`expected ${labels} demonstrations, got HTTP ${res.status}`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({ checkout: root, index: indexDir, labels, took_ms: { median: median(took), min: Math.min(...took) }, wall_ms: { median: Math.round(median(wall)) } }));
server.close();
await service.close();
