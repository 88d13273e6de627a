/**
 * A model folder the size of all-MiniLM-L6-v2 with random weights, for the benchmark (no weights can be downloaded
 * here): a BERT encoder of 6 layers, hidden 384, 12 heads, FFN 1536, vocabulary 30522, 512 positions, written as an
 * ONNX graph (input_ids, attention_mask, token_type_ids -> last_hidden_state), with a WordPiece tokenizer.json whose
 * vocabulary is the most frequent words of a corpus's text filled up with word pieces, and the sentence-transformers
 * files of MiniLM (mean pooling, Normalize, max_seq_length 256). ~90 MB; written under models/ (not committed).
 *   npx tsx scripts/bench/make-minilm-sized.ts [--out models/minilm-l6-random] [--data ../shared/data/meld]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import onnxProto from 'onnx-proto';
import { loadCorpus } from '../../src/corpus/load.js';
import { GraphBuilder } from '../../src/embed/use-lite-onnx-graph.js';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'models/minilm-l6-random' }, data: { type: 'string', default: '../shared/data/meld' } } });
const out = values.out!;
const { onnx } = onnxProto;
const VOCAB = 30522;
const HIDDEN = 384;
const HEADS = 12;
const LAYERS = 6;
const FFN = 1536;
const POSITIONS = 512;

// Seeded normal(0, 0.05) weights: the benchmark measures speed, so only the shapes matter.
let seed = 42;
const uniform = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const normal = (n: number, std = 0.05) => Float32Array.from({ length: n }, () => std * Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform()));

const g = new GraphBuilder();
const ids = 'input_ids';
const mask = 'attention_mask';
const types = 'token_type_ids';
const dense = (x: string, inDim: number, outDim: number) => g.one('Add', [g.one('MatMul', [x, g.tensor([inDim, outDim], normal(inDim * outDim))]), g.tensor([outDim], new Float32Array(outDim))]);
const layerNorm = (x: string) => g.one('LayerNormalization', [x, g.tensor([HIDDEN], new Float32Array(HIDDEN).fill(1)), g.tensor([HIDDEN], new Float32Array(HIDDEN))], { axis: -1, epsilon: 1e-12 });
const gelu = (x: string) => g.one('Mul', [g.one('Mul', [x, g.scalar(0.5)]), g.one('Add', [g.one('Erf', [g.one('Div', [x, g.scalar(Math.SQRT2)])]), g.scalar(1)])]);

// Embeddings: word + position (0..T-1) + token type, then LayerNorm.
const length = g.one('Gather', [g.one('Shape', [ids]), g.ints([1])], { axis: 0 });
const positions = g.one('Range', [g.tensor([], BigInt64Array.of(0n)), g.one('Squeeze', [length]), g.tensor([], BigInt64Array.of(1n))]);
let x = g.one('Add', [
  g.one('Add', [g.one('Gather', [g.tensor([VOCAB, HIDDEN], normal(VOCAB * HIDDEN)), ids], { axis: 0 }), g.one('Gather', [g.tensor([POSITIONS, HIDDEN], normal(POSITIONS * HIDDEN)), positions], { axis: 0 })]),
  g.one('Gather', [g.tensor([2, HIDDEN], normal(2 * HIDDEN)), types], { axis: 0 }),
]);
x = layerNorm(x);
// Attention bias from the mask: 0 where attended, -10000 on padding, shaped [B, 1, 1, T].
const bias = g.one('Mul', [g.one('Sub', [g.scalar(1), g.one('Cast', [mask], { to: onnx.TensorProto.DataType.FLOAT })]), g.scalar(-10000)]);
const bias4 = g.one('Unsqueeze', [bias, g.ints([1, 2])]);
const headDim = HIDDEN / HEADS;
const split = (t: string) => g.one('Transpose', [g.one('Reshape', [t, g.ints([0, -1, HEADS, headDim])])], { perm: [0, 2, 1, 3] });
for (let layer = 0; layer < LAYERS; layer++) {
  const q = split(dense(x, HIDDEN, HIDDEN));
  const k = g.one('Transpose', [g.one('Reshape', [dense(x, HIDDEN, HIDDEN), g.ints([0, -1, HEADS, headDim])])], { perm: [0, 2, 3, 1] });
  const v = split(dense(x, HIDDEN, HIDDEN));
  const scores = g.one('Add', [g.one('Div', [g.one('MatMul', [q, k]), g.scalar(Math.sqrt(headDim))]), bias4]);
  const context = g.one('Reshape', [g.one('Transpose', [g.one('MatMul', [g.one('Softmax', [scores], { axis: -1 }), v])], { perm: [0, 2, 1, 3] }), g.ints([0, -1, HIDDEN])]);
  x = layerNorm(g.one('Add', [x, dense(context, HIDDEN, HIDDEN)]));
  x = layerNorm(g.one('Add', [x, dense(gelu(dense(x, HIDDEN, FFN)), FFN, HIDDEN)]));
}
g.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [x], output: ['last_hidden_state'] }));
const info = (name: string, elemType: number, dims: (number | string)[]) => onnx.ValueInfoProto.create({
  name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});
const { INT64, FLOAT } = onnx.TensorProto.DataType;
const model = onnx.ModelProto.encode(onnx.ModelProto.create({
  irVersion: 8, producerName: 'erc-demos', opsetImport: [{ domain: '', version: 17 }],
  graph: onnx.GraphProto.create({
    name: 'minilm-l6-sized', node: g.nodes, initializer: g.initializers,
    input: [info(ids, INT64, ['batch', 'tokens']), info(mask, INT64, ['batch', 'tokens']), info(types, INT64, ['batch', 'tokens'])],
    output: [info('last_hidden_state', FLOAT, ['batch', 'tokens', HIDDEN])],
  }),
})).finish();

// WordPiece vocabulary: specials, characters and their ## pieces, the corpus's most frequent words, then fillers.
const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const counts = new Map<string, number>();
for (const d of loadCorpus({ format: 'meld', data: values.data!, splits: ['train'] }).dialogues) {
  for (const t of d.turns) for (const w of t.text.toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
}
const chars = [...new Set([...counts.keys()].join(''))];
const vocab = [...new Set([...specials, ...chars, ...chars.map((c) => `##${c}`), ...[...counts.entries()].sort((a, b) => b[1] - a[1]).map(([w]) => w)])].slice(0, VOCAB);
for (let i = 0; vocab.length < VOCAB; i++) vocab.push(`[unused${i}]`);
const tokenizer = {
  version: '1.0', truncation: null, padding: null,
  added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
    special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
  },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])) },
};

mkdirSync(join(out, 'onnx'), { recursive: true });
mkdirSync(join(out, '1_Pooling'), { recursive: true });
mkdirSync(join(out, '2_Normalize'), { recursive: true });
writeFileSync(join(out, 'onnx', 'model.onnx'), model);
writeFileSync(join(out, 'tokenizer.json'), JSON.stringify(tokenizer));
writeFileSync(join(out, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: 512, cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]' }));
writeFileSync(join(out, 'config.json'), JSON.stringify({ model_type: 'bert', hidden_size: HIDDEN, num_hidden_layers: LAYERS, num_attention_heads: HEADS, intermediate_size: FFN, vocab_size: VOCAB, max_position_embeddings: POSITIONS }));
writeFileSync(join(out, 'modules.json'), JSON.stringify([
  { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
  { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
  { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
]));
writeFileSync(join(out, '1_Pooling', 'config.json'), JSON.stringify({ word_embedding_dimension: HIDDEN, pooling_mode_cls_token: false, pooling_mode_mean_tokens: true, pooling_mode_max_tokens: false, pooling_mode_mean_sqrt_len_tokens: false }));
writeFileSync(join(out, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: 256, do_lower_case: false }));
console.error(`wrote ${out}: ONNX ${(model.byteLength / 1e6).toFixed(1)} MB, vocabulary ${vocab.length}`);
