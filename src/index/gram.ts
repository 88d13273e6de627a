import onnxProto from 'onnx-proto';
import { loadOrt } from '../embed/ort.js';

const { onnx } = onnxProto;

/**
 * A set of cross-validation candidates that share one space: the raw embedding alone (no `lda`), or one LDA fit,
 * whose candidates score each row b * raw + (1 - b) * lda for each of `blends` (the cosine of the blended space).
 */
export interface BlendGroup {
  /** Row-major LDA parts (unit vectors) of the queries and of the rows, `dim` wide; absent: the raw space. */
  lda?: { queries: Float32Array; rows: Float32Array; dim: number };
  blends: readonly number[];
}

/**
 * A group's best rows, per query and blend: `scores` and `ids` are queries x blends x k, best first, ties to the
 * lower row (k is at most the number of rows).
 */
export interface BlendTops {
  k: number;
  scores: Float32Array;
  ids: Int32Array;
}

/** Dot products of every query with every row: row-major m x dim and n x dim in, m x n out. */
export interface Gram {
  dots(queries: Float32Array, rows: Float32Array, dim: number): Promise<Float32Array>;
  /**
   * For each query, the k best rows of each group's blends (queries x rows raw dot products, then the blends), without
   * handing the queries x rows scores back: what cross-validation needs of a block of rows. Optional: a Gram
   * without it has its `dots` do the products and the selection runs in JavaScript (choose-space.ts).
   */
  blendTopK?(queries: Float32Array, rows: Float32Array, dim: number, groups: readonly BlendGroup[], k: number): Promise<BlendTops[]>;
  close(): Promise<void>;
}

const { FLOAT, INT64 } = onnx.TensorProto.DataType;

function valueInfo(name: string, dims: readonly (string | number)[], elemType: number = FLOAT) {
  return onnx.ValueInfoProto.create({
    name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

function node(opType: string, input: string[], output: string[], ints: Record<string, number> = {}) {
  const attribute = Object.entries(ints).map(([name, i]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i }));
  return onnx.NodeProto.create({ opType, input, output, attribute });
}

function encode(graph: Parameters<typeof onnx.GraphProto.create>[0]): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8, producerName: 'erc-demos', opsetImport: [{ domain: '', version: 17 }], graph: onnx.GraphProto.create(graph),
  })).finish();
}

/** A one-node ONNX graph, scores = queries x rows^T (Gemm with transB). */
function gemmModel(): Uint8Array {
  return encode({
    name: 'gram',
    node: [node('Gemm', ['queries', 'rows'], ['scores'], { transB: 1 })],
    input: [valueInfo('queries', ['m', 'dim']), valueInfo('rows', ['n', 'dim'])],
    output: [valueInfo('scores', ['m', 'n'])],
  });
}

/**
 * The graph behind blendTopK: raw = queries x rows^T; per group, its LDA cosines l the same way, the blends
 * l + b (raw - l) as a queries x blends x rows tensor, and TopK along the rows (which breaks ties to the lower
 * index, as the JavaScript selection does); the raw group's TopK is over raw itself.
 */
function blendTopKModel(groups: readonly { lda: boolean; blends: readonly number[] }[], dim: number): Uint8Array {
  const nodes = [node('Gemm', ['queries', 'rows'], ['raw'], { transB: 1 })];
  const inputs = [valueInfo('queries', ['m', dim]), valueInfo('rows', ['n', dim]), valueInfo('k', [1], INT64)];
  const outputs = [];
  const initializer = [onnx.TensorProto.create({ name: 'axis1', dataType: INT64, dims: [1], int64Data: [1] })];
  for (const [g, group] of groups.entries()) {
    if (!group.lda) {
      nodes.push(node('TopK', ['raw', 'k'], [`scores${g}`, `ids${g}`], { axis: 1 }));
      outputs.push(valueInfo(`scores${g}`, ['m', 'k']), valueInfo(`ids${g}`, ['m', 'k'], INT64));
      continue;
    }
    inputs.push(valueInfo(`lq${g}`, ['m', `d${g}`]), valueInfo(`lr${g}`, ['n', `d${g}`]));
    initializer.push(onnx.TensorProto.create({ name: `blends${g}`, dataType: FLOAT, dims: [1, group.blends.length, 1], floatData: [...group.blends] }));
    nodes.push(
      node('Gemm', [`lq${g}`, `lr${g}`], [`l${g}`], { transB: 1 }),
      node('Sub', ['raw', `l${g}`], [`d${g}`]),
      node('Unsqueeze', [`d${g}`, 'axis1'], [`d3${g}`]),
      node('Unsqueeze', [`l${g}`, 'axis1'], [`l3${g}`]),
      node('Mul', [`d3${g}`, `blends${g}`], [`bd${g}`]),
      node('Add', [`l3${g}`, `bd${g}`], [`s${g}`]),
      node('TopK', [`s${g}`, 'k'], [`scores${g}`, `ids${g}`], { axis: 2 }),
    );
    outputs.push(valueInfo(`scores${g}`, ['m', group.blends.length, 'k']), valueInfo(`ids${g}`, ['m', group.blends.length, 'k'], INT64));
  }
  return encode({ name: 'blend_topk', node: nodes, initializer, input: inputs, output: outputs });
}

/**
 * onnxruntime's matrix products: cross-validating the space over a 10k-utterance corpus needs ~5 x 10^10
 * multiply-adds at 512 dims, about a second here against tens in a JavaScript loop; the blends' top-k run in the
 * same native call (a session per shape of groups, made on first use).
 */
export async function onnxGram(): Promise<Gram> {
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(gemmModel());
  const blendSessions = new Map<string, Promise<Awaited<ReturnType<typeof ort.InferenceSession.create>>>>();
  return {
    async dots(queries, rows, dim) {
      const out = await session.run({
        queries: new ort.Tensor('float32', queries, [queries.length / dim, dim]),
        rows: new ort.Tensor('float32', rows, [rows.length / dim, dim]),
      });
      return out.scores.data as Float32Array;
    },
    async blendTopK(queries, rows, dim, groups, k) {
      const m = queries.length / dim;
      const n = rows.length / dim;
      const kk = Math.min(k, n);
      const shape = groups.map((g) => ({ lda: g.lda !== undefined, blends: g.lda ? g.blends : [1] }));
      const key = `${dim}|${JSON.stringify(shape)}`;
      let made = blendSessions.get(key);
      if (!made) blendSessions.set(key, (made = ort.InferenceSession.create(blendTopKModel(shape, dim))));
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
        queries: new ort.Tensor('float32', queries, [m, dim]),
        rows: new ort.Tensor('float32', rows, [n, dim]),
        k: new ort.Tensor('int64', BigInt64Array.from([BigInt(kk)]), [1]),
      };
      groups.forEach((g, i) => {
        if (!g.lda) return;
        feeds[`lq${i}`] = new ort.Tensor('float32', g.lda.queries, [m, g.lda.dim]);
        feeds[`lr${i}`] = new ort.Tensor('float32', g.lda.rows, [n, g.lda.dim]);
      });
      const out = await (await made).run(feeds);
      return groups.map((g, i) => {
        const scores = out[`scores${i}`].data as Float32Array;
        const ids = Int32Array.from(out[`ids${i}`].data as BigInt64Array, Number);
        if (g.lda || g.blends.length === 1) return { k: kk, scores, ids };
        // Several raw candidates (the same space): each gets the one top-k.
        const width = g.blends.length;
        const wide: BlendTops = { k: kk, scores: new Float32Array(m * width * kk), ids: new Int32Array(m * width * kk) };
        for (let q = 0; q < m; q++) {
          for (let c = 0; c < width; c++) {
            wide.scores.set(scores.subarray(q * kk, (q + 1) * kk), (q * width + c) * kk);
            wide.ids.set(ids.subarray(q * kk, (q + 1) * kk), (q * width + c) * kk);
          }
        }
        return wide;
      });
    },
    async close() {
      await session.release();
      for (const made of blendSessions.values()) await (await made).release();
    },
  };
}
