/**
 * Where USE-lite's time goes on MELD utterances (the numbers behind docs/PERFORMANCE.md): tokenisation, the TF.js
 * runtime (@energetic-ai, WASM) against the native one (onnxruntime-node, src/embed/use-lite-onnx.ts) on the same
 * utterances, for a batch, for one sentence at a time and for calls of 8 unrelated requests; CPU time per
 * utterance beside wall time (so spinning or extra threads show); the worker pool against the in-thread model.
 *   npx tsx scripts/bench/profile-embed.ts [--data ../shared/data/meld]
 */
import { parseArgs } from 'node:util';
import { loadCorpus } from '../../src/corpus/load.js';
import { startUseLitePool } from '../../src/embed/pool.js';
import type { Embedder } from '../../src/embed/types.js';
import { UseLiteEmbedder } from '../../src/embed/use-lite.js';
import { UseLiteOnnxEmbedder, useLiteTokenizer } from '../../src/embed/use-lite-onnx.js';
import { loadUseLiteVocabulary } from '../../src/embed/use-lite-weights.js';

const { values } = parseArgs({ options: { data: { type: 'string', default: '../shared/data/meld' } } });
const texts = loadCorpus({ format: 'meld', data: values.data!, splits: ['train'] }).dialogues.flatMap((d) => d.turns.map((t) => t.text)).slice(0, 2048);
const out: Record<string, number> = {};
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

const tokenizer = useLiteTokenizer(loadUseLiteVocabulary());
let t = performance.now();
let tokens = 0;
for (const x of texts) tokens += tokenizer.encode(x).length;
out.tokenize_ms_per_text = round((performance.now() - t) / texts.length, 3);
out.avg_tokens = round(tokens / texts.length, 1);

/** Wall and CPU ms per utterance for `calls` (each an embed() call), run one after another. */
async function measure(embedder: Embedder, calls: string[][]): Promise<{ wall: number; cpu: number }> {
  const n = calls.reduce((s, c) => s + c.length, 0);
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  for (const call of calls) await embedder.embed(call);
  const cpu = process.cpuUsage(cpu0);
  return { wall: round((performance.now() - start) / n, 3), cpu: round((cpu.user + cpu.system) / 1000 / n, 3) };
}
const chunks = (list: string[], size: number) => Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));

for (const [name, embedder] of [['tfjs', await UseLiteEmbedder.load()], ['native', await UseLiteOnnxEmbedder.load()]] as const) {
  await embedder.embed(texts.slice(0, 32));
  const subset = name === 'tfjs' ? texts.slice(0, 512) : texts; // TF.js is slow: a quarter of the utterances
  const batch = await measure(embedder, [subset]);
  const single = await measure(embedder, chunks(subset.slice(0, 256), 1));
  const requests8 = await measure(embedder, chunks(subset.slice(0, 256), 8));
  out[`${name}_batch_per_s`] = round(1000 / batch.wall, 0);
  out[`${name}_batch_cpu_ms_per_text`] = batch.cpu;
  out[`${name}_single_ms`] = single.wall;
  out[`${name}_single_cpu_ms`] = single.cpu;
  out[`${name}_calls_of_8_requests_ms_per_text`] = requests8.wall;
}

const single = await UseLiteOnnxEmbedder.load();
await single.embed(texts.slice(0, 32));
out.native_in_thread_2048_per_s = round(1000 / (await measure(single, [texts])).wall, 0);
const pool = await startUseLitePool(2);
out.native_pool2_2048_per_s = round(1000 / (await measure(pool, [texts])).wall, 0);
await pool.close();
console.log(JSON.stringify(out, null, 2));
