/** The graph sentence-transformers' ONNX backend loads by default, in the layouts the hub's folders use. */
export const DEFAULT_GRAPHS = ['onnx/model.onnx', 'model.onnx'];

/**
 * Graph files by the dtype names transformers.js uses for them (`--dtype`); fp32 is the default graph. The library
 * names the file from the dtype itself (onnx/model{suffix}.onnx); this table is for the messages and the checks
 * made before it loads (a missing file named with the --dtype that would pick another).
 */
export const DTYPE_GRAPHS: Readonly<Record<string, string>> = {
  fp16: 'onnx/model_fp16.onnx', q8: 'onnx/model_quantized.onnx', int8: 'onnx/model_int8.onnx', uint8: 'onnx/model_uint8.onnx',
  q4: 'onnx/model_q4.onnx', q4f16: 'onnx/model_q4f16.onnx', bnb4: 'onnx/model_bnb4.onnx',
};
export const DTYPES = ['fp32', ...Object.keys(DTYPE_GRAPHS)] as const;
