import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { AutoModel, AutoTokenizer, env, Tensor, type PreTrainedModel, type PreTrainedTokenizer } from '@xenova/transformers';
import { sentenceVector } from './pooling.js';
import { describeConfig, FOLDER_DEFAULTS, readSentenceTransformerConfig, type SentenceTransformerConfig } from './st-config.js';
import type { Embedder } from './types.js';

export interface TransformersOptions {
  /** Hub id (e.g. Xenova/all-MiniLM-L6-v2) or a local folder with config.json, tokenizer.json and onnx/. */
  model: string;
  /** Allow downloads from the model hub; off by default so nothing reaches the network unasked. */
  allowRemote?: boolean;
}

const suffixes = new WeakMap<PreTrainedTokenizer, number>();

/** How many special tokens the tokenizer appends after the text ([SEP] for BERT: 1; none for some models). */
function specialSuffix(tokenizer: PreTrainedTokenizer): number {
  let n = suffixes.get(tokenizer);
  if (n === undefined) {
    const withSpecial = Array.from((tokenizer('a').input_ids as Tensor).data as BigInt64Array);
    const plain = Array.from((tokenizer('a', { add_special_tokens: false }).input_ids as Tensor).data as BigInt64Array);
    const at = withSpecial.findIndex((_, i) => plain.every((id, j) => withSpecial[i + j] === id));
    n = at < 0 ? 1 : withSpecial.length - at - plain.length;
    suffixes.set(tokenizer, n);
  }
  return n;
}

/**
 * Cuts a tokenized text to maxLength tokens the way Hugging Face tokenizers truncate (what sentence-transformers
 * runs): text tokens go, the closing special tokens stay. (transformers.js 2 cuts after them, losing [SEP].)
 */
export function truncate(ids: bigint[], maxLength: number | undefined, suffix: number): bigint[] {
  if (maxLength === undefined || ids.length <= maxLength) return ids;
  return [...ids.slice(0, maxLength - suffix), ...ids.slice(ids.length - suffix)];
}

/**
 * Any sentence-transformer exported to ONNX: transformers.js tokenizes and runs the Transformer, and the model
 * folder's own sentence-transformers configuration (st-config.ts) decides the rest, as `SentenceTransformer.encode`
 * does: the default prompt prepended, truncation at max_seq_length (special tokens included), the pooling mode,
 * then L2 normalisation for cosine search.
 */
export class TransformersEmbedder implements Embedder {
  private constructor(
    readonly id: string,
    readonly dim: number,
    readonly config: SentenceTransformerConfig,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly model: PreTrainedModel,
    /** Leading tokens masked out of pooling: the prompt's, where the model pools without it. */
    private readonly skip: number,
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
    // A downloaded model's sentence-transformers files are not fetched by transformers.js: the defaults apply.
    const config = isLocal ? readSentenceTransformerConfig(localDir) : FOLDER_DEFAULTS;
    // Quantised weights where the folder has them (transformers.js' default), else the full model.onnx.
    const quantized = isLocal ? existsSync(join(localDir, 'onnx', 'model_quantized.onnx')) : true;
    const tokenizer = await AutoTokenizer.from_pretrained(modelId);
    const model = await AutoModel.from_pretrained(modelId, { quantized });
    // sentence-transformers' prompt_length: the prompt's tokens with the leading special token, less the closing one.
    const skip = config.prompt && !config.includePrompt ? (tokenizer(config.prompt).input_ids as Tensor).dims.at(-1)! - 1 : 0;
    const probe = await TransformersEmbedder.tokenVectors(tokenizer, model, ['probe'], config.maxSeqLength);
    return new TransformersEmbedder(`transformers:${options.model}`, probe.hidden.dims[2], config, tokenizer, model, skip);
  }

  /** The Transformer's last hidden state for a right-padded batch, with its attention mask. */
  private static async tokenVectors(tokenizer: PreTrainedTokenizer, model: PreTrainedModel, texts: string[], maxLength?: number): Promise<{ hidden: Tensor; mask: Tensor }> {
    const ids = texts.map((text) => truncate(Array.from((tokenizer(text).input_ids as Tensor).data as BigInt64Array), maxLength, specialSuffix(tokenizer)));
    const tokens = Math.max(...ids.map((x) => x.length));
    const shape = [ids.length, tokens];
    const inputIds = new BigInt64Array(ids.length * tokens);
    const mask = new BigInt64Array(ids.length * tokens);
    ids.forEach((x, b) => x.forEach((id, t) => {
      inputIds[b * tokens + t] = id;
      mask[b * tokens + t] = 1n;
    }));
    const attention = new Tensor('int64', mask, shape);
    const output = (await model({ input_ids: new Tensor('int64', inputIds, shape), attention_mask: attention, token_type_ids: new Tensor('int64', new BigInt64Array(ids.length * tokens), shape) })) as { last_hidden_state: Tensor };
    return { hidden: output.last_hidden_state, mask: attention };
  }

  /** What was read from the model folder, for the build's output. */
  describe(): string {
    return describeConfig(this.config);
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const { hidden, mask: maskTensor } = await TransformersEmbedder.tokenVectors(this.tokenizer, this.model, texts.map((t) => this.config.prompt + t), this.config.maxSeqLength);
    const [batch, tokens, dim] = hidden.dims;
    const data = hidden.data as Float32Array;
    const mask = maskTensor.data as BigInt64Array;
    return Array.from({ length: batch }, (_, b) => sentenceVector(
      data.subarray(b * tokens * dim, (b + 1) * tokens * dim), Array.from(mask.subarray(b * tokens, (b + 1) * tokens), Number), dim, this.config.pooling, this.skip,
    ));
  }
}
