import onnxProto from 'onnx-proto';
import type { GraphConstant, UseLiteWeights } from './use-lite-weights.js';

const { onnx } = onnxProto;
type TensorData = Float32Array | Int32Array | BigInt64Array;

/** Names of the ONNX model's inputs and output (see buildUseLiteOnnx). */
export const USE_LITE_ONNX = {
  tokenIds: 'token_ids', positions: 'positions', sentences: 'sentences', pooling: 'pooling', output: 'embedding',
} as const;

/** Collects nodes and initializers; every op gets a fresh output name. */
export class GraphBuilder {
  readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private next = 0;

  tensor(shape: number[], data: TensorData): string {
    const name = `c${this.next++}`;
    const dataType = data instanceof Float32Array ? onnx.TensorProto.DataType.FLOAT
      : data instanceof Int32Array ? onnx.TensorProto.DataType.INT32 : onnx.TensorProto.DataType.INT64;
    this.initializers.push(onnx.TensorProto.create({
      name, dims: shape, dataType, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    }));
    return name;
  }

  ints(values: number[]): string {
    return this.tensor([values.length], BigInt64Array.from(values.map(BigInt)));
  }

  scalar(value: number): string {
    return this.tensor([], Float32Array.of(value));
  }

  op(opType: string, input: string[], attrs: Record<string, number | number[]> = {}, outputs = 1): string[] {
    const output = Array.from({ length: outputs }, () => `t${this.next++}`);
    const attribute = Object.entries(attrs).map(([name, v]) => Array.isArray(v)
      ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v })
      : Number.isInteger(v) && name !== 'epsilon'
        ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v })
        : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v }));
    this.nodes.push(onnx.NodeProto.create({ opType, input, output, attribute }));
    return output;
  }

  one(opType: string, input: string[], attrs: Record<string, number | number[]> = {}): string {
    return this.op(opType, input, attrs)[0];
  }
}

/** Finds the one graph constant whose TF name ends with `suffix` (names carry long, varying scope prefixes). */
function constantNamed(weights: UseLiteWeights, suffix: string): GraphConstant {
  const found = [...weights.constants].filter(([name]) => name.endsWith(suffix));
  if (found.length !== 1) throw new Error(`USE-lite weights: ${found.length} constants named *${suffix}`);
  return found[0][1];
}

function scalarOf(weights: UseLiteWeights, suffix: string): number {
  return constantNamed(weights, suffix).data[0];
}

/**
 * The USE-lite TF.js graph (two Transformer layers, 4 heads, mean pooling, tanh layer, L2 norm) rewritten as an
 * ONNX model over the same weights, so onnxruntime-node runs it natively. The TF graph pads sentences to the
 * longest of a call and moves real tokens in and out of that dense form (Where/ScatterNd/GatherNd); here the
 * tokens of a call are packed end to end instead, with no padding at all, and each token attends only to tokens
 * of its own sentence (block-diagonal bias), which computes the same thing. Read from the graph, node by node:
 *   x0 = 2 * E[id] + timing(position)                    (the graph adds the scattered embeddings twice)
 *   layer 0: y = attn(LN(x0)) + x0 W_d + b_d;  y += FFN(LN(y))
 *   layer 1: y += attn(LN(y));                 y += FFN(LN(y))
 *   out = l2norm(tanh(mean over the sentence's tokens(y) W_t + b_t))
 * Inputs: token_ids, positions (within the sentence) and sentences (index of the sentence) int32 [N] for the N
 * packed tokens; pooling float [B, N] with 1/length where token n belongs to sentence b (a mean as one MatMul).
 * Checked against the TF.js runtime in test/embed.test.ts (cosine >= 0.999).
 */
export function buildUseLiteOnnx(weights: UseLiteWeights): Uint8Array {
  const g = new GraphBuilder();
  const w = (suffix: string): string => {
    const c = constantNamed(weights, suffix);
    // 1x1 convolution kernels [1, 1, in, out] are plain [in, out] matrices.
    return g.tensor(c.shape.length === 4 ? c.shape.slice(2) : c.shape, c.data);
  };
  const epsilon = scalarOf(weights, 'FFN/layer_prepostprocess/layer_norm/Cast/x');
  const heads = scalarOf(weights, 'Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2');
  const { tokenIds, positions, sentences, pooling, output } = USE_LITE_ONNX;

  // Sinusoidal timing signal per position: [sin(t * f), cos(t * f)] as the graph computes it, positions below
  // the graph's clip length (ClipToMaxLength).
  const maxPositions = scalarOf(weights, 'ClipToMaxLength/Less/y');
  const frequencies = constantNamed(weights, 'AddTimingSignal/TimingSignal/ExpandDims_1').data;
  const timingTable = new Float32Array(maxPositions * frequencies.length * 2);
  for (let t = 0; t < maxPositions; t++) {
    for (let f = 0; f < frequencies.length; f++) {
      const angle = Math.fround(t * frequencies[f]);
      timingTable[t * frequencies.length * 2 + f] = Math.sin(angle);
      timingTable[t * frequencies.length * 2 + frequencies.length + f] = Math.cos(angle);
    }
  }
  const timing = g.one('Gather', [g.tensor([maxPositions, frequencies.length * 2], timingTable), positions], { axis: 0 });

  // [1, N, N]: 0 between tokens of one sentence, the graph's padding bias (-1e9) across sentences.
  const sameSentence = g.one('Equal', [g.one('Unsqueeze', [sentences, g.ints([1])]), g.one('Unsqueeze', [sentences, g.ints([0])])]);
  const crossBias = g.scalar(scalarOf(weights, 'attention_bias_ignore_padding/mul/y'));
  const attentionBias = g.one('Unsqueeze', [g.one('Where', [sameSentence, g.scalar(0), crossBias]), g.ints([0])]);

  const dense = (x: string, kernel: string, bias: string): string => g.one('Add', [g.one('MatMul', [x, w(kernel)]), w(bias)]);
  const layerNorm = (x: string, scope: string): string => g.one('LayerNormalization', [
    x, w(`${scope}/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`),
    w(`${scope}/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`),
  ], { axis: -1, epsilon });

  const attention = (x: string, layer: number): string => {
    const scope = `Encode/Layer_${layer}/TransformerLayer/MultiheadAttention`;
    const width = constantNamed(weights, `Layer_${layer}/TransformerLayer/MultiheadAttention/Const`).data[0];
    const qkv = dense(x, `${scope}/qkv_transform_single/kernel/part_0`, `${scope}/qkv_transform_single/bias/ConcatPartitions/concat`);
    // [N, width] -> [heads, N, width / heads]
    const [q, k, v] = g.op('Split', [qkv, g.ints([width, width, width])], { axis: 1 }, 3)
      .map((t) => g.one('Transpose', [g.one('Reshape', [t, g.ints([0, heads, width / heads])])], { perm: [1, 0, 2] }));
    const scale = scalarOf(weights, `Layer_${layer}/TransformerLayer/MultiheadAttention/mul/y`);
    const logits = g.one('Add', [g.one('MatMul', [g.one('Mul', [q, g.scalar(scale)]), g.one('Transpose', [k], { perm: [0, 2, 1] })]), attentionBias]);
    const context = g.one('MatMul', [g.one('Softmax', [logits], { axis: -1 }), v]);
    const merged = g.one('Reshape', [g.one('Transpose', [context], { perm: [1, 0, 2] }), g.ints([0, width])]);
    return dense(merged, `${scope}/output_transform_single/kernel/part_0`, `${scope}/output_transform_single/bias/ConcatPartitions/concat`);
  };
  const feedForward = (x: string, layer: number): string => {
    const kernel = (n: number) => `Encode/TransformerStack/Layer_${layer}/TransformerLayer/FFN/conv${n}/Tensordot/Reshape_1`;
    const bias = (n: number) => `Encode/Layer_${layer}/TransformerLayer/FFN/conv${n}/bias/ConcatPartitions/concat`;
    const hidden = g.one('Relu', [dense(layerNorm(x, `Encode/Layer_${layer}/TransformerLayer/FFN`), kernel(1), bias(1))]);
    return dense(hidden, kernel(2), bias(2));
  };

  const embeddings = g.one('Gather', [w('module/Embeddings_en'), tokenIds], { axis: 0 });
  const x0 = g.one('Add', [g.one('Mul', [embeddings, g.scalar(2)]), timing]);
  const residual0 = dense(x0, 'Encode/Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat',
    'Encode/Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat');
  let y = g.one('Add', [attention(layerNorm(x0, 'Encode/Layer_0/TransformerLayer'), 0), residual0]);
  y = g.one('Add', [y, feedForward(y, 0)]);
  y = g.one('Add', [y, attention(layerNorm(y, 'Encode/Layer_1/TransformerLayer'), 1)]);
  y = g.one('Add', [y, feedForward(y, 1)]);

  const pooled = g.one('MatMul', [pooling, y]); // [B, 512]
  const hidden = g.one('Tanh', [dense(pooled, 'hidden_layers/tanh_layer_0/weights', 'hidden_layers/tanh_layer_0/bias')]);
  const squared = g.one('ReduceSum', [g.one('Mul', [hidden, hidden]), g.ints([1])], { keepdims: 1 });
  const norm = g.one('Sqrt', [g.one('Max', [squared, g.scalar(scalarOf(weights, 'l2_normalize/Maximum/y'))])]);
  g.nodes.push(onnx.NodeProto.create({ opType: 'Div', input: [hidden, norm], output: [output] }));

  const valueInfo = (name: string, elemType: number, dims: (number | string)[]) => onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const { INT32, FLOAT } = onnx.TensorProto.DataType;
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'erc-demos',
    opsetImport: [{ domain: '', version: 17 }],
    graph: onnx.GraphProto.create({
      name: 'use-lite',
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(tokenIds, INT32, ['tokens']), valueInfo(positions, INT32, ['tokens']),
        valueInfo(sentences, INT32, ['tokens']), valueInfo(pooling, FLOAT, ['batch', 'tokens'])],
      output: [valueInfo(output, FLOAT, ['batch', 512])],
    }),
  });
  return onnx.ModelProto.encode(model).finish();
}
