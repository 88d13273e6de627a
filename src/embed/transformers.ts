import { existsSync, statSync } from 'node:fs';
import { EmbedderError } from '../errors.js';
import { dirname, join, resolve } from 'node:path';
import type { DataType, PreTrainedModel, PreTrainedTokenizer, Tensor } from '@huggingface/transformers';
import { DEFAULT_GRAPHS, DTYPE_GRAPHS, DTYPES } from './graphs.js';
import { downloadModel, loadTransformers, type Transformers } from './hub.js';
import { sessionOptions } from './ort.js';
import { sentenceVector } from './pooling.js';
import { ModelFileRecorder, sha256OfFile, type EmbedderFingerprint } from './fingerprint.js';
import { describeConfig, ModelFolderError, readFolderJson, readSentenceTransformerConfig, type SentenceTransformerConfig } from './st-config.js';
import type { Embedder } from './types.js';

export interface TransformersOptions {
  /** Hub id (e.g. Xenova/all-MiniLM-L6-v2) or a local folder with config.json, tokenizer.json, tokenizer_config.json and onnx/. */
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
  /**
   * The transformers.js module to use, where the caller imported it already: a worker thread running src/ through
   * tsx passes the copy Node loaded, since tsx would load a second one (1-2 s per thread).
   */
  library?: Transformers;
}

/** Where hub models are fetched from and kept (settings ERC_DEMOS_ALLOW_REMOTE_MODELS, _MODEL_CACHE, _MODEL_HOST). */
export interface RemoteOptions {
  allowRemote: boolean;
  cacheDir?: string;
  /** The hub's address (a mirror, or a test's loopback server); default the library's, https://huggingface.co/. */
  host?: string;
  /** The graph to download with the rest (`--dtype`). */
  dtype?: string;
}

/**
 * A model spec as a local folder: the folder itself, or (remote loading on) the hub id downloaded into the cache.
 * Remote loading off and no such folder: an error saying what to do.
 */
export async function modelFolder(model: string, remote: RemoteOptions): Promise<string> {
  const localDir = resolve(model);
  if (existsSync(localDir) && statSync(localDir).isDirectory()) return localDir;
  if (!remote.allowRemote) {
    throw new EmbedderError(
      'MODEL_UNAVAILABLE',
      `transformers model "${model}" is not a local folder and remote loading is off ` +
        '(set ERC_DEMOS_ALLOW_REMOTE_MODELS=1 to download from the hub, or give a folder with config.json, tokenizer.json and onnx/model.onnx)',
    );
  }
  return downloadModel(model, { cacheDir: remote.cacheDir, host: remote.host, dtype: remote.dtype });
}

/** Padded tokens per model call (sentences x the longest of them). */
const CALL_TOKENS = 2048;

export { DTYPE_GRAPHS, DTYPES };

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

/** Token ids of a text, as the library's tokenizer (tokenizers.js) gives them. */
function encodeIds(tokenizer: PreTrainedTokenizer, text: string, addSpecialTokens = true): number[] {
  return tokenizer.encode(text, { add_special_tokens: addSpecialTokens });
}

/** How many special tokens the tokenizer appends after the text ([SEP] for BERT: 1; none for some models). */
function specialSuffix(tokenizer: PreTrainedTokenizer): number {
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

/**
 * The folder's tokenizer, loaded by the library (AutoTokenizer: tokenizer.json with tokenizer_config.json). The two
 * files are read here first, for the fingerprint and for errors that name the file.
 */
async function loadTokenizer(hf: Transformers, dir: string, recorder: ModelFileRecorder): Promise<PreTrainedTokenizer> {
  requiredJson(dir, 'tokenizer.json', recorder);
  requiredJson(dir, 'tokenizer_config.json', recorder);
  try {
    const tokenizer = await hf.AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    encodeIds(tokenizer, 'probe');
    return tokenizer;
  } catch (error) {
    throw new ModelFolderError(dir, `tokenizer.json (with tokenizer_config.json) is not a tokenizer that loads: ${(error as Error).message}`);
  }
}

/**
 * The folder's Transformer, loaded by the library (AutoModel): the architecture from config.json, the graph file from
 * the dtype and subfolder (`graphFile`, checked to exist beforehand), external data (model.onnx_data) beside it, and
 * the session on the process's one onnxruntime with this project's threads and spinning settings.
 */
async function loadModel(hf: Transformers, dir: string, graphFile: string, dtype: string | undefined, threads: number): Promise<PreTrainedModel> {
  const subfolder = dirname(graphFile) === '.' ? '' : dirname(graphFile);
  try {
    return await hf.AutoModel.from_pretrained(dir, {
      local_files_only: true, subfolder, dtype: (dtype ?? 'fp32') as DataType, device: 'cpu', session_options: sessionOptions(threads),
    });
  } catch (error) {
    throw new ModelFolderError(dir, `${graphFile} does not load: ${(error as Error).message}`);
  }
}

/** The sha256 of the graph and of its external data files (weights kept beside it: model.onnx_data, _1, ...). */
async function hashGraph(dir: string, graphFile: string, recorder: ModelFileRecorder): Promise<string> {
  const data = [`${graphFile}_data`, ...Array.from({ length: 99 }, (_, i) => `${graphFile}_data_${i + 1}`)].filter((f) => existsSync(join(dir, f)));
  const hashes = await Promise.all([graphFile, ...data].map((f) => sha256OfFile(join(dir, f))));
  [graphFile, ...data].forEach((f, i) => recorder.record(f, hashes[i]));
  return hashes[0];
}

/** The model output this project pools: the Transformer's last hidden state (else its first output). */
function lastHiddenState(output: Record<string, Tensor>): Tensor {
  const hidden = output.last_hidden_state ?? Object.values(output)[0];
  if (!hidden || hidden.dims.length !== 3) throw new EmbedderError('MODEL_UNSUPPORTED', 'the model gives no token vectors (last_hidden_state: batch x tokens x dim)');
  return hidden;
}

/**
 * Any sentence-transformer exported to ONNX, run by Hugging Face's transformers.js (@huggingface/transformers 4) on
 * the process's one onnxruntime (ort.ts) beside USE-lite: the library loads the tokenizer and the Transformer (the
 * graph of the dtype asked for, its external data, the inputs its architecture takes), and the model folder's own
 * sentence-transformers configuration (st-config.ts) decides the rest, as `SentenceTransformer.encode` does: the
 * default prompt prepended, truncation at max_seq_length (special tokens included), the pooling mode, then L2
 * normalisation for cosine search.
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
    private readonly hf: Transformers,
    private readonly model: PreTrainedModel,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly suffix: number,
    /** Leading tokens masked out of pooling: the prompt's, where the model pools without it. */
    private readonly skip: number,
  ) {}

  static async load(options: TransformersOptions): Promise<TransformersEmbedder> {
    const dir = options.folder ?? await modelFolder(options.model, { allowRemote: options.allowRemote === true, dtype: options.dtype });
    const recorder = new ModelFileRecorder(dir);
    const config = readSentenceTransformerConfig(dir, options.prompt, recorder);
    const graphFile = graphFileOf(dir, options.dtype);
    const graph = join(dir, graphFile);
    const hf = options.library ?? await loadTransformers();
    const tokenizer = await loadTokenizer(hf, dir, recorder);
    // The library reads config.json for the architecture (and so the inputs fed): part of what the vectors depend on.
    requiredJson(dir, 'config.json', recorder);
    // The graph is hashed at every load (nothing cached that could go stale): ~2 ms per MB (docs/RELIABILITY.md).
    const [model, graphHash] = await Promise.all([loadModel(hf, dir, graphFile, options.dtype, options.threads ?? 1), hashGraph(dir, graphFile, recorder)]);
    const fingerprint: EmbedderFingerprint = { model: graphFile, files: { ...recorder.files } };
    const loaded = `${graph} (${(statSync(graph).size / 1e6).toFixed(1)} MB, sha256 ${graphHash.slice(0, 12)})`;
    // sentence-transformers' prompt_length: the prompt's tokens with the leading special token, less the closing one.
    const skip = config.prompt && !config.includePrompt ? encodeIds(tokenizer, config.prompt).length - 1 : 0;
    const id = options.id ?? `transformers:${options.model}`;
    const embedder = new TransformersEmbedder(id, 0, config, fingerprint, loaded, hf, model, tokenizer, specialSuffix(tokenizer), skip);
    const { dims } = await embedder.tokenVectors([embedder.tokenIds('probe')]);
    return new TransformersEmbedder(id, dims[2], config, fingerprint, loaded, hf, model, tokenizer, embedder.suffix, skip);
  }

  /** What was read from the model folder, for the build's output. */
  describe(): string {
    return describeConfig(this.config);
  }

  /** A text's token ids as the model reads them: prompt prepended, truncated as sentence-transformers truncates. */
  private tokenIds(text: string): number[] {
    return truncate(encodeIds(this.tokenizer, this.config.prompt + text), this.config.maxSeqLength, this.suffix);
  }

  /**
   * The Transformer's last hidden state for a right-padded batch, with its attention mask. The library feeds what the
   * graph takes beyond these two (token_type_ids of zeros for BERT, position ids for decoders).
   */
  private async tokenVectors(ids: readonly number[][]): Promise<{ hidden: Float32Array; dims: number[]; mask: BigInt64Array }> {
    const tokens = Math.max(...ids.map((x) => x.length));
    const shape = [ids.length, tokens];
    const inputIds = new BigInt64Array(ids.length * tokens);
    const mask = new BigInt64Array(ids.length * tokens);
    ids.forEach((x, b) => x.forEach((id, t) => {
      inputIds[b * tokens + t] = BigInt(id);
      mask[b * tokens + t] = 1n;
    }));
    let output: Record<string, Tensor>;
    try {
      output = await this.model({ input_ids: new this.hf.Tensor('int64', inputIds, shape), attention_mask: new this.hf.Tensor('int64', mask, shape) }) as Record<string, Tensor>;
    } catch (error) {
      const message = (error as Error).message;
      if (/Missing the following inputs/.test(message)) throw new EmbedderError('MODEL_UNSUPPORTED', `the model graph takes inputs erc-demos does not feed: ${message}`);
      throw error;
    }
    const hidden = lastHiddenState(output);
    return { hidden: hidden.data as Float32Array, dims: hidden.dims, mask };
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
    await this.model.dispose();
  }
}
