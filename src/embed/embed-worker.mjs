// One native USE-lite model per worker thread (use-lite-onnx.ts), so embedding runs beside the main thread's HTTP
// and graph work. Plain JavaScript that registers tsx itself: worker threads do not inherit the loader that runs
// the TypeScript sources. Protocol: {texts} in; {vectors} (flat Float32Array, n x 512, unit length, transferred)
// or {error} out, one call at a time.
import { parentPort } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const { UseLiteOnnxEmbedder } = await tsImport('./use-lite-onnx.ts', import.meta.url);
const embedder = await UseLiteOnnxEmbedder.load();
await embedder.embed(['warm up']);
parentPort.postMessage({ ready: true });

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
