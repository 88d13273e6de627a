import type { Embedder } from './types.js';
import { availableParallelism } from 'node:os';
import { UseLitePool } from './pool.js';
import { UseLiteOnnxEmbedder } from './use-lite-onnx.js';

/**
 * What the embedder is for. `batch` (build, export, eval): every core embeds while the main thread files results.
 * `serve`: one core is left to the main thread's HTTP and graph search; on 2 cores that measured better at
 * concurrency 16 (p99 44 vs 66 ms, docs/PERFORMANCE.md), and worse for builds (723 vs 1099 utterances/s).
 */
export type EmbedRole = 'batch' | 'serve';

/** Worker threads that embed with USE-lite: $ERC_DEMOS_EMBED_THREADS, else per role (at most 4); 0 embeds in-thread. */
export function embedThreads(role: EmbedRole = 'batch'): number {
  const fromEnv = Number(process.env.ERC_DEMOS_EMBED_THREADS);
  if (process.env.ERC_DEMOS_EMBED_THREADS && Number.isInteger(fromEnv) && fromEnv >= 0) return fromEnv;
  const cores = availableParallelism();
  return Math.min(4, role === 'serve' ? Math.max(1, cores - 1) : cores);
}

export const DEFAULT_EMBEDDER = 'use-lite';

/** Builds an embedder from its spec: `use-lite` or `transformers:<hub id or local folder>`. */
export async function createEmbedder(spec: string = DEFAULT_EMBEDDER, role: EmbedRole = 'batch'): Promise<Embedder> {
  if (spec === 'use-lite') {
    const threads = embedThreads(role);
    return threads > 0 ? UseLitePool.start(threads) : UseLiteOnnxEmbedder.load();
  }
  if (spec.startsWith('transformers:') && spec.length > 'transformers:'.length) {
    // Imported only when asked for: transformers.js loads its own onnxruntime (1.14) at import, and two
    // onnxruntime libraries in one thread corrupt its heap (use-lite loads 1.20 only when it loads its model).
    const { TransformersEmbedder } = await import('./transformers.js');
    return TransformersEmbedder.load({
      model: spec.slice('transformers:'.length),
      allowRemote: process.env.ERC_DEMOS_ALLOW_REMOTE_MODELS === '1',
    });
  }
  throw new Error(`unknown embedder "${spec}" (expected use-lite or transformers:<model id or folder>)`);
}
