import { TransformersEmbedder } from './transformers.js';
import type { Embedder } from './types.js';
import { UseLiteEmbedder } from './use-lite.js';

export const DEFAULT_EMBEDDER = 'use-lite';

/** Builds an embedder from its spec: `use-lite` or `transformers:<hub id or local folder>`. */
export async function createEmbedder(spec: string = DEFAULT_EMBEDDER): Promise<Embedder> {
  if (spec === 'use-lite') return UseLiteEmbedder.load();
  if (spec.startsWith('transformers:') && spec.length > 'transformers:'.length) {
    return TransformersEmbedder.load({
      model: spec.slice('transformers:'.length),
      allowRemote: process.env.ERC_DEMOS_ALLOW_REMOTE_MODELS === '1',
    });
  }
  throw new Error(`unknown embedder "${spec}" (expected use-lite or transformers:<model id or folder>)`);
}
