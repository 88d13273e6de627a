/**
 * What onnxruntime alone gives a sentence-transformers graph: MELD train utterances tokenized beforehand (not timed),
 * sorted by length, cut into the same calls of at most 2048 padded tokens the embedder makes, input tensors built
 * beforehand, then only `session.run` timed, one after another on one intra-op thread (one core). The reference the
 * project's build throughput per core is compared against (docs/PERFORMANCE.md).
 *   npx tsx scripts/bench/ort-tight-loop.ts [--model models/minilm-l6-random] [--data ../shared/data/meld] [--json]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tokenizer } from '@huggingface/tokenizers';
import type * as OrtApi from 'onnxruntime-common';
import { loadCorpus } from '../../src/corpus/load.js';
import { loadOrt, sessionOptions } from '../../src/embed/ort.js';
import { readSentenceTransformerConfig } from '../../src/embed/st-config.js';
import { truncate } from '../../src/embed/transformers.js';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'models/minilm-l6-random' }, data: { type: 'string', default: '../shared/data/meld' }, json: { type: 'boolean', default: false } } });
const dir = values.model!;
const json = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as object;
const tokenizer = new Tokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
const max = readSentenceTransformerConfig(dir).maxSeqLength ?? 512;
const texts = loadCorpus({ format: 'meld', data: values.data!, splits: ['train'] }).dialogues.flatMap((d) => d.turns.map((t) => t.text));
const ids = texts.map((t) => truncate(tokenizer.encode(t).ids as number[], max, 1));
const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || a - b);
const ort = loadOrt();
const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'), sessionOptions(1));
const calls: Record<string, OrtApi.Tensor>[] = [];
for (let start = 0; start < order.length;) {
  let end = start + 1;
  while (end < order.length && (end - start + 1) * ids[order[end]].length <= 2048) end++;
  const call = order.slice(start, end).map((i) => ids[i]);
  const tokens = Math.max(...call.map((x) => x.length));
  const input = new BigInt64Array(call.length * tokens);
  const mask = new BigInt64Array(call.length * tokens);
  call.forEach((x, b) => x.forEach((id, t) => {
    input[b * tokens + t] = BigInt(id);
    mask[b * tokens + t] = 1n;
  }));
  const shape = [call.length, tokens];
  calls.push({ input_ids: new ort.Tensor('int64', input, shape), attention_mask: new ort.Tensor('int64', mask, shape), token_type_ids: new ort.Tensor('int64', new BigInt64Array(input.length), shape) });
  start = end;
}
await session.run(calls[0]);
const started = performance.now();
for (const feeds of calls) await session.run(feeds);
const seconds = (performance.now() - started) / 1000;
const result = { model: dir, utterances: texts.length, calls: calls.length, seconds: Number(seconds.toFixed(2)), items_per_s_one_thread: Number((texts.length / seconds).toFixed(1)) };
if (values.json) console.log(JSON.stringify(result));
else console.log(result);
await session.release();
