// One embedding model per worker thread, so embedding runs beside the main thread's HTTP and graph work: native
// USE-lite (use-lite-onnx.ts), or a sentence-transformers folder (transformers.ts), both on the process's one onnxruntime-node (1.30).
// Plain JavaScript, copied as is into dist/ by the build (scripts/build-dist.mjs). workerData: {kind: 'use-lite'} or
// {kind: 'transformers', id, model, folder, prompt, dtype}. Protocol: {texts} in; {vectors} (flat Float32Array, n x dim,
// unit length, transferred) or {error} out, one call at a time.
import { existsSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * A module beside this file: the compiled one where it was built (the package's dist/), else the TypeScript source,
 * through tsx (a checkout's src/, where tsx is a dev dependency; worker threads do not inherit the parent's loader).
 */
async function importSibling(name) {
  const compiled = new URL(`./${name}.js`, import.meta.url);
  if (existsSync(compiled)) return import(compiled.href);
  const { tsImport } = await import('tsx/esm/api');
  return tsImport(`./${name}.ts`, import.meta.url);
}

async function load() {
  if (workerData?.kind === 'transformers') {
    // Imported by Node itself and handed over: from src/ through tsx, a second copy would load (1-2 s per thread).
    const library = await import('@huggingface/transformers');
    const { TransformersEmbedder } = await importSibling('transformers');
    return TransformersEmbedder.load({ model: workerData.model, folder: workerData.folder, prompt: workerData.prompt, dtype: workerData.dtype, id: workerData.id, library });
  }
  const { UseLiteOnnxEmbedder } = await importSibling('use-lite-onnx');
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
