import { existsSync, statSync } from 'node:fs';
import { EmbedderError } from '../errors.js';
import { join, resolve } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type * as OrtApi from 'onnxruntime-common';
import { downloadModel } from './hub.js';
import { loadOrt, sessionOptions, type Ort } from './ort.js';
import { sentenceVector } from './pooling.js';
import { ModelFileRecorder, sha256OfFile, type EmbedderFingerprint } from './fingerprint.js';
import { describeConfig, ModelFolderError, readFolderJson, readSentenceTransformerConfig, type SentenceTransformerConfig } from './st-config.js';
import type { Embedder } from './types.js';

export interface TransformersOptions {
  /** Hub id (e.g. Xenova/all-MiniLM-L6-v2) or a local folder with tokenizer.json, tokenizer_config.json and onnx/. */
  model: string;
  /** Allow downloads from the model hub; off by default so nothing reaches the network unasked. */
  allowRemote?: boolean;
  /** onnxruntime intra-op threads (default 1). */
  threads?: number;
  /** The model's local folder when `model` is a hub id already downloaded (worker threads get it from the pool). */
  folder?: string;
  /**
   * Overrides the folder's default prompt (`--query-prompt`): the name of one of its prompts, or the text itself;
   * "" for none. Used for queried and indexed utterances alike.
   */
  prompt?: string;
  /** The graph by dtype (`--dtype`, DTYPE_GRAPHS); default the one sentence-transformers loads, onnx/model.onnx. */
  dtype?: string;
  /** The embedder id (default `transformers:<model>`; with a prompt override, the spec that names it). */
  id?: string;
}

/**
 * A model spec as a local folder: the folder itself, or (remote loading on) the hub id downloaded into the cache.
 * Remote loading off and no such folder: an error saying what to do.
 */
export async function modelFolder(model: string, remote: { allowRemote: boolean; cacheDir?: string }): Promise<string> {
  const localDir = resolve(model);
  if (existsSync(localDir) && statSync(localDir).isDirectory()) return localDir;
  if (!remote.allowRemote) {
    throw new EmbedderError(
      'MODEL_UNAVAILABLE',
      `transformers model "${model}" is not a local folder and remote loading is off ` +
        '(set ERC_DEMOS_ALLOW_REMOTE_MODELS=1 to download from the hub, or give a folder with config.json, tokenizer.json and onnx/model.onnx)',
    );
  }
  return downloadModel(model, remote.cacheDir);
}

/** Padded tokens per model call (sentences x the longest of them). */
const CALL_TOKENS = 2048;

/** The graphs a folder may hold, preferred first (quantised weights where the folder has them). */
/** The graph sentence-transformers' ONNX backend loads by default, in the layouts the hub's folders use. */
const DEFAULT_GRAPHS = ['onnx/model.onnx', 'model.onnx'];

/** Graph files by the dtype names transformers.js uses for them (`--dtype`); fp32 is the default graph. */
export const DTYPE_GRAPHS: Readonly<Record<string, string>> = {
  fp16: 'onnx/model_fp16.onnx', q8: 'onnx/model_quantized.onnx', int8: 'onnx/model_int8.onnx', uint8: 'onnx/model_uint8.onnx',
  q4: 'onnx/model_q4.onnx', q4f16: 'onnx/model_q4f16.onnx', bnb4: 'onnx/model_bnb4.onnx',
};
export const DTYPES = ['fp32', ...Object.keys(DTYPE_GRAPHS)] as const;

/**
 * The graph to load: the default (onnx/model.onnx, as sentence-transformers loads), or the file of the dtype asked
 * for. Never another variant silently: a folder with only, say, a quantized graph is refused, naming `--dtype`.
 */
function graphFileOf(dir: string, dtype: string | undefined): string {
  if (dtype !== undefined && dtype !== 'fp32') {
    const file = DTYPE_GRAPHS[dtype];
    if (!file) throw new ModelFolderError(dir, `unknown dtype "${dtype}" (one of ${DTYPES.join(', ')})`);
    if (!existsSync(join(dir, file))) throw new ModelFolderError(dir, `no ${file} for dtype ${dtype}`);
    return file;
  }
  const found = DEFAULT_GRAPHS.find((g) => existsSync(join(dir, g)));
  if (found) return found;
  const variants = Object.entries(DTYPE_GRAPHS).filter(([, f]) => existsSync(join(dir, f))).map(([d, f]) => `${f} (--dtype ${d})`);
  throw new ModelFolderError(dir, `no ONNX graph at ${DEFAULT_GRAPHS.join(' or ')}${variants.length ? `; it has ${variants.join(', ')}: choose one with --dtype` : ''}`);
}

/**
 * Cuts a tokenized text to maxLength tokens the way Hugging Face tokenizers truncate (what sentence-transformers
 * runs): text tokens go, the closing special tokens stay.
 */
export function truncate<T>(ids: T[], maxLength: number | undefined, suffix: number): T[] {
  if (maxLength === undefined || ids.length <= maxLength) return ids;
  return [...ids.slice(0, maxLength - suffix), ...ids.slice(ids.length - suffix)];
}

/** Token ids of a text (the package's declarations do not resolve under NodeNext, so the type is named here). */
function encodeIds(tokenizer: Tokenizer, text: string, addSpecialTokens = true): number[] {
  return tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids as number[];
}

/** How many special tokens the tokenizer appends after the text ([SEP] for BERT: 1; none for some models). */
function specialSuffix(tokenizer: Tokenizer): number {
  const withSpecial = encodeIds(tokenizer, 'a');
  const plain = encodeIds(tokenizer, 'a', false);
  const at = withSpecial.findIndex((_, i) => plain.every((id, j) => withSpecial[i + j] === id));
  return at < 0 ? 1 : withSpecial.length - at - plain.length;
}

/** A JSON file the folder must have, recorded for the fingerprint; missing or invalid: an error naming it. */
function requiredJson(dir: string, file: string, recorder: ModelFileRecorder): Record<string, unknown> {
  const json = readFolderJson(dir, file, recorder);
  if (json === undefined) throw new ModelFolderError(dir, `no ${file}`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ModelFolderError(dir, `${file} is not a JSON object`);
  return json as Record<string, unknown>;
}

/** The folder's tokenizer (tokenizer.json with tokenizer_config.json); one that cannot be built names the file. */
function loadTokenizer(dir: string, recorder: ModelFileRecorder): Tokenizer {
  const json = requiredJson(dir, 'tokenizer.json', recorder);
  const config = requiredJson(dir, 'tokenizer_config.json', recorder);
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
    encodeIds(tokenizer, 'probe');
  } catch (error) {
    throw new ModelFolderError(dir, `tokenizer.json (with tokenizer_config.json) is not a tokenizer that loads: ${(error as Error).message}`);
  }
  return tokenizer;
}

/**
 * Any sentence-transformer exported to ONNX, on the process's one onnxruntime (ort.ts) beside USE-lite: the
 * tokenizer is Hugging Face's tokenizers.js (pure JavaScript), the graph the folder's ONNX Transformer, and the model
 * folder's own sentence-transformers configuration (st-config.ts) decides the rest, as `SentenceTransformer.encode`
 * does: the default prompt prepended, truncation at max_seq_length (special tokens included), the pooling mode,
 * then L2 normalisation for cosine search.
 */
export class TransformersEmbedder implements Embedder {
  private constructor(
    readonly id: string,
    readonly dim: number,
    readonly config: SentenceTransformerConfig,
    /** The sha256 of the graph, tokenizer and configuration files read, as an index records them. */
    readonly fingerprint: EmbedderFingerprint,
    /** The graph file loaded, for the build's output. */
    readonly loaded: string,
    private readonly ort: Ort,
    private readonly session: OrtApi.InferenceSession,
    private readonly tokenizer: Tokenizer,
    private readonly suffix: number,
    /** Leading tokens masked out of pooling: the prompt's, where the model pools without it. */
    private readonly skip: number,
  ) {}

  static async load(options: TransformersOptions): Promise<TransformersEmbedder> {
    const dir = options.folder ?? await modelFolder(options.model, { allowRemote: options.allowRemote === true });
    const recorder = new ModelFileRecorder(dir);
    const config = readSentenceTransformerConfig(dir, options.prompt, recorder);
    const tokenizer = loadTokenizer(dir, recorder);
    const graphFile = graphFileOf(dir, options.dtype);
    const graph = join(dir, graphFile);
    const ort = loadOrt();
    // The graph is hashed at every load (nothing cached that could go stale): ~2 ms per MB (docs/RELIABILITY.md).
    const [session, graphHash] = await Promise.all([ort.InferenceSession.create(graph, sessionOptions(options.threads ?? 1)), sha256OfFile(graph)]);
    recorder.record(graphFile, graphHash);
    const fingerprint: EmbedderFingerprint = { model: graphFile, files: { ...recorder.files } };
    const loaded = `${graph} (${(statSync(graph).size / 1e6).toFixed(1)} MB, sha256 ${graphHash.slice(0, 12)})`;
    // sentence-transformers' prompt_length: the prompt's tokens with the leading special token, less the closing one.
    const skip = config.prompt && !config.includePrompt ? encodeIds(tokenizer, config.prompt).length - 1 : 0;
    const id = options.id ?? `transformers:${options.model}`;
    const embedder = new TransformersEmbedder(id, 0, config, fingerprint, loaded, ort, session, tokenizer, specialSuffix(tokenizer), skip);
    const { dims } = await embedder.tokenVectors([embedder.tokenIds('probe')]);
    return new TransformersEmbedder(id, dims[2], config, fingerprint, loaded, ort, session, tokenizer, embedder.suffix, skip);
  }

  /** What was read from the model folder, for the build's output. */
  describe(): string {
    return describeConfig(this.config);
  }

  /** A text's token ids as the model reads them: prompt prepended, truncated as sentence-transformers truncates. */
  private tokenIds(text: string): number[] {
    return truncate(encodeIds(this.tokenizer, this.config.prompt + text), this.config.maxSeqLength, this.suffix);
  }

  /** The Transformer's last hidden state for a right-padded batch, with its attention mask. */
  private async tokenVectors(ids: readonly number[][]): Promise<{ hidden: Float32Array; dims: number[]; mask: BigInt64Array }> {
    const tokens = Math.max(...ids.map((x) => x.length));
    const shape = [ids.length, tokens];
    const inputIds = new BigInt64Array(ids.length * tokens);
    const mask = new BigInt64Array(ids.length * tokens);
    ids.forEach((x, b) => x.forEach((id, t) => {
      inputIds[b * tokens + t] = BigInt(id);
      mask[b * tokens + t] = 1n;
    }));
    const feeds: Record<string, OrtApi.Tensor> = {
      input_ids: new this.ort.Tensor('int64', inputIds, shape),
      attention_mask: new this.ort.Tensor('int64', mask, shape),
      token_type_ids: new this.ort.Tensor('int64', new BigInt64Array(ids.length * tokens), shape),
    };
    const inputs = Object.fromEntries(this.session.inputNames.map((name) => {
      if (!feeds[name]) throw new EmbedderError('MODEL_UNSUPPORTED', `model input "${name}" is not one a BERT-style Transformer takes (input_ids, attention_mask, token_type_ids)`);
      return [name, feeds[name]];
    }));
    const output = await this.session.run(inputs);
    const hidden = output.last_hidden_state ?? output[this.session.outputNames[0]];
    return { hidden: hidden.data as Float32Array, dims: hidden.dims as number[], mask };
  }

  /**
   * Sentences sorted by token count and cut into calls of at most CALL_TOKENS padded tokens: a call pads to its
   * longest sentence, so mixing a 5-token and a 120-token sentence would waste most of the work.
   */
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const ids = texts.map((text) => this.tokenIds(text));
    const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || a - b);
    const out: Float32Array[] = new Array(texts.length);
    for (let start = 0; start < order.length;) {
      let end = start + 1;
      while (end < order.length && (end - start + 1) * ids[order[end]].length <= CALL_TOKENS) end++;
      const call = order.slice(start, end);
      const { hidden, dims, mask } = await this.tokenVectors(call.map((i) => ids[i]));
      const [, tokens, dim] = dims;
      call.forEach((i, b) => (out[i] = sentenceVector(
        hidden.subarray(b * tokens * dim, (b + 1) * tokens * dim), Array.from(mask.subarray(b * tokens, (b + 1) * tokens), Number), dim, this.config.pooling, this.skip,
      )));
      start = end;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
