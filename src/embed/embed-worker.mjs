// One embedding model per worker thread, so embedding runs beside the main thread's HTTP and graph work: native
// USE-lite (use-lite-onnx.ts), or a sentence-transformers folder (transformers.ts), both on onnxruntime-node 1.20.
// Plain JavaScript that registers tsx itself: worker threads do not inherit the loader that runs the TypeScript
// sources. workerData: {kind: 'use-lite'} or {kind: 'transformers', id, model, folder, prompt}. Protocol: {texts} in; {vectors}
// (flat Float32Array, n x dim, unit length, transferred) or {error} out, one call at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

async function load() {
  if (workerData?.kind === 'transformers') {
    const { TransformersEmbedder } = await tsImport('./transformers.ts', import.meta.url);
    return TransformersEmbedder.load({ model: workerData.model, folder: workerData.folder, prompt: workerData.prompt, id: workerData.id });
  }
  const { UseLiteOnnxEmbedder } = await tsImport('./use-lite-onnx.ts', import.meta.url);
  return UseLiteOnnxEmbedder.load();
}

const embedder = await load();
await embedder.embed(['warm up']);
parentPort.postMessage({ ready: true, dim: embedder.dim, description: embedder.describe?.(), fingerprint: embedder.fingerprint, loaded: embedder.loaded });

parentPort.on('message', async ({ texts }) => {
  try {
    const vectors = await embedder.embed(texts);
    const flat = new Float32Array(texts.length * embedder.dim);
    vectors.forEach((v, i) => flat.set(v, i * embedder.dim));
    parentPort.postMessage({ vectors: flat }, [flat.buffer]);
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message ? error.message : error) });
  }
});
