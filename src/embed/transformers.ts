import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { env, pipeline, type FeatureExtractionPipeline } from '@xenova/transformers';
import { normalize, type Embedder } from './types.js';

export interface TransformersOptions {
  /** Hub id (e.g. Xenova/all-MiniLM-L6-v2) or a local folder with config.json, tokenizer.json and onnx/. */
  model: string;
  /** Allow downloads from the model hub; off by default so nothing reaches the network unasked. */
  allowRemote?: boolean;
}

/**
 * Any sentence-transformer exported to ONNX, through transformers.js: mean pooling over the attention mask,
 * then L2 normalisation (what sentence-transformers' default pooling does).
 */
export class TransformersEmbedder implements Embedder {
  private constructor(
    readonly id: string,
    readonly dim: number,
    private readonly extractor: FeatureExtractionPipeline,
  ) {}

  static async load(options: TransformersOptions): Promise<TransformersEmbedder> {
    const localDir = resolve(options.model);
    const isLocal = existsSync(localDir) && statSync(localDir).isDirectory();
    env.allowRemoteModels = !isLocal && options.allowRemote === true;
    env.allowLocalModels = true;
    let modelId = options.model;
    if (isLocal) {
      env.localModelPath = dirname(localDir);
      modelId = basename(localDir);
    } else if (!env.allowRemoteModels) {
      throw new Error(
        `transformers model "${options.model}" is not a local folder and remote loading is off ` +
          '(set ERC_DEMOS_ALLOW_REMOTE_MODELS=1 to download from the hub, or give a folder with config.json, tokenizer.json and onnx/model.onnx)',
      );
    }
    // Quantised weights where the folder has them (transformers.js' default), else the full model.onnx.
    const quantized = isLocal ? existsSync(join(localDir, 'onnx', 'model_quantized.onnx')) : true;
    const extractor = (await pipeline('feature-extraction', modelId, { quantized })) as FeatureExtractionPipeline;
    const probe = await extractor(['probe'], { pooling: 'mean', normalize: true });
    const dim = probe.dims[probe.dims.length - 1];
    return new TransformersEmbedder(`transformers:${options.model}`, dim, extractor);
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const output = await this.extractor([...texts], { pooling: 'mean', normalize: true });
    const data = output.data as Float32Array;
    return texts.map((_, i) => normalize(data.slice(i * this.dim, (i + 1) * this.dim)));
  }
}
