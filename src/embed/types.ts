import type { EmbedderFingerprint } from './fingerprint.js';

export interface EmbedOptions {
  /** Aborting drops the call's sentences not yet embedded (the request's client went away); the call rejects. */
  signal?: AbortSignal;
  /**
   * Reproducible vectors: the sentences go in calls of their own, cut at fixed positions of `texts` (scheduler.ts),
   * so a vector depends only on the texts of this request, never on timing or on other requests sharing a call (a
   * model that packs or pads a call gives a sentence's vector differently, by ~1e-6, in different company). A build
   * asks for it; single queries do not, and share calls.
   */
  fixedCalls?: boolean;
  /**
   * Background work beside queries (a live write's turns): its sentences go in calls of their own of at most this
   * many, so a query that arrives meanwhile waits for one short call at most, not a long one. Not cached (each text
   * is embedded once).
   */
  callItems?: number;
}

/** Turns a batch of strings into unit-length vectors; the only thing the rest of the code knows of a model. */
export interface Embedder {
  /** Stable id stored in index manifests: an index only opens with the embedder that built it. */
  readonly id: string;
  readonly dim: number;
  /** What was read from a model folder (pooling, length, prompt), where there is something to say. */
  readonly description?: string;
  /** The sha256 of the model files it loaded, which an index records and checks at open (fingerprint.ts). */
  readonly fingerprint?: EmbedderFingerprint;
  /** The model file it loaded, for the build's output. */
  readonly loaded?: string;
  /** Characters of one text it reads (ERC_DEMOS_MAX_EMBED_CHARS): a longer text is embedded from its beginning. */
  readonly maxChars?: number;
  embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array[]>;
  /** One promise per text, each settled as soon as its vector is ready (ScheduledEmbedder, CachedEmbedder). */
  embedEach?(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array>[];
  close?(): Promise<void>;
}

/** Dot product (the cosine, for unit vectors). */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/** L2-normalises in place (cosine on unit vectors is a dot product) and returns the vector. */
export function normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] /= norm;
  return vector;
}
