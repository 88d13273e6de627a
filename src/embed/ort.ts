import { createRequire } from 'node:module';
import type * as OrtApi from 'onnxruntime-common';

export type Ort = typeof OrtApi;

/**
 * The process's one onnxruntime: onnxruntime-node 1.30.0, the version @huggingface/transformers 4 requires, loaded on
 * first use. Every model here runs on it (USE-lite, sentence-transformers through transformers.js, the
 * cross-validation's matrix products): the library resolves the same package, so one native runtime is loaded. Its API
 * is onnxruntime-common's, which it re-exports.
 */
export const loadOrt = (): Ort => createRequire(import.meta.url)('onnxruntime-node') as Ort;

/** Session options for a model that serves many small calls beside HTTP work. */
export function sessionOptions(threads: number): OrtApi.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Spinning threads wait for the next call by burning a core: costly beside HTTP work on a small machine.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}
