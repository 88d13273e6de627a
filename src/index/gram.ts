import onnxProto from 'onnx-proto';
import { loadOrt } from '../embed/ort.js';

const { onnx } = onnxProto;

/** Dot products of every query with every row: row-major m x dim and n x dim in, m x n out. */
export interface Gram {
  dots(queries: Float32Array, rows: Float32Array, dim: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/** A one-node ONNX graph, scores = queries x rows^T (Gemm with transB). */
function gemmModel(): Uint8Array {
  const { FLOAT } = onnx.TensorProto.DataType;
  const info = (name: string, dims: string[]) => onnx.ValueInfoProto.create({
    name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((dimParam) => ({ dimParam })) } } },
  });
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'erc-demos',
    opsetImport: [{ domain: '', version: 17 }],
    graph: onnx.GraphProto.create({
      name: 'gram',
      node: [onnx.NodeProto.create({
        opType: 'Gemm', input: ['queries', 'rows'], output: ['scores'],
        attribute: [onnx.AttributeProto.create({ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 })],
      })],
      input: [info('queries', ['m', 'dim']), info('rows', ['n', 'dim'])],
      output: [info('scores', ['m', 'n'])],
    }),
  })).finish();
}

/**
 * onnxruntime's matrix product: cross-validating the space over a 10k-utterance corpus needs ~5 x 10^10
 * multiply-adds at 512 dims, about a second here against tens in a JavaScript loop.
 */
export async function onnxGram(): Promise<Gram> {
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(gemmModel());
  return {
    async dots(queries, rows, dim) {
      const out = await session.run({
        queries: new ort.Tensor('float32', queries, [queries.length / dim, dim]),
        rows: new ort.Tensor('float32', rows, [rows.length / dim, dim]),
      });
      return out.scores.data as Float32Array;
    },
    close: () => session.release(),
  };
}
