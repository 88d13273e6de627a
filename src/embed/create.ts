import { TransformersEmbedder } from './transformers.js';
import type { Embedder } from './types.js';
import { availableParallelism } from 'node:os';
import { UseLitePool } from './pool.js';
import { UseLiteEmbedder } from './use-lite.js';

/** Worker threads for USE-lite: $ERC_DEMOS_EMBED_THREADS, else one per core (at most 4); 1 runs in-thread. */
export function embedThreads(): number {
  const fromEnv = Number(process.env.ERC_DEMOS_EMBED_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv >= 1) return fromEnv;
  return Math.min(4, availableParallelism());
}

export const DEFAULT_EMBEDDER = 'use-lite';

/** Builds an embedder from its spec: `use-lite` or `transformers:<hub id or local folder>`. */
export async function createEmbedder(spec: string = DEFAULT_EMBEDDER): Promise<Embedder> {
  if (spec === 'use-lite') {
    const threads = embedThreads();
    return threads > 1 ? UseLitePool.start(threads) : UseLiteEmbedder.load();
  }
  if (spec.startsWith('transformers:') && spec.length > 'transformers:'.length) {
    return TransformersEmbedder.load({
      model: spec.slice('transformers:'.length),
      allowRemote: process.env.ERC_DEMOS_ALLOW_REMOTE_MODELS === '1',
    });
  }
  throw new Error(`unknown embedder "${spec}" (expected use-lite or transformers:<model id or folder>)`);
}
