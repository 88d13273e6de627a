/**
 * USE-lite's vectors on the installed onnxruntime-node against a dump made on another version (issue 19: 1.20.1 to
 * 1.30.0): the first 400 MELD train utterances and the edge cases of test/embed.test.ts, each embedded in one batch,
 * alone, and on a worker thread. Run it once before changing the runtime (--write), once after (--against).
 *   npx tsx scripts/research/use-lite-runtime-diff.ts --write /tmp/use-lite-before.json
 *   npx tsx scripts/research/use-lite-runtime-diff.ts --against /tmp/use-lite-before.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { loadCorpus } from '../../src/corpus/load.js';
import { startUseLitePool } from '../../src/embed/pool.js';
import { dot } from '../../src/embed/types.js';
import { UseLiteOnnxEmbedder } from '../../src/embed/use-lite-onnx.js';

const { values } = parseArgs({ options: { data: { type: 'string', default: '../shared/data/meld' }, write: { type: 'string' }, against: { type: 'string' } } });
interface Dump { ort: string; texts: string[]; batch: number[][]; alone: number[][]; pooled: number[][] }

const meld = loadCorpus({ format: 'meld', data: values.data!, splits: ['train'] }).dialogues.flatMap((d) => d.turns.map((t) => t.text)).slice(0, 400);
const edge = ["I can't believe you did that!", 'Okay.', 'Oh.', 'Hey, Joey! What are you doing here?', 'Mmm-hmm, yeah, sure...',
  'Pizza 🍕 for the émigré ☃ — “quoted”', 'a '.repeat(200), 'I AM SO ANGRY AT YOU RIGHT NOW', '', 'word',
  'a', 'a much longer sentence than the others here', 'x y z', 'Hi!'];
const texts = [...meld, ...edge];
const model = await UseLiteOnnxEmbedder.load();
const alone: number[][] = [];
for (const text of texts) alone.push(Array.from((await model.embed([text]))[0]));
const pool = await startUseLitePool(1);
const now: Dump = {
  ort: (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version,
  texts, batch: (await model.embed(texts)).map((v) => Array.from(v)), alone, pooled: (await pool.embed(texts)).map((v) => Array.from(v)),
};
if (values.write) writeFileSync(values.write, JSON.stringify(now));
if (values.against) {
  const before = JSON.parse(readFileSync(values.against, 'utf8')) as Dump;
  if (before.texts.join('\n') !== texts.join('\n')) throw new Error('the dump holds other texts');
  for (const key of ['batch', 'alone', 'pooled'] as const) {
    const cosines = now[key].map((v, i) => dot(v, before[key][i]));
    const at = cosines.indexOf(Math.min(...cosines));
    console.log(`${key}: onnxruntime-node ${before.ort} -> ${now.ort}, ${texts.length} texts, min cosine ${cosines[at].toFixed(8)} (${JSON.stringify(texts[at].slice(0, 40))})`);
  }
}
process.exit(0);
