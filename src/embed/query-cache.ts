import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { EmbedOptions, Embedder } from './types.js';

/**
 * What an entry costs beyond its vector and key (lru-cache's slots, the Float32Array's object and its backing
 * store's allocation), counted with each entry so the budget bounds the process's memory, not just the vectors:
 * 100,000 entries of 512 dims raised RSS by 2630 bytes each against 2140 for vector and key (Node 20); rounded up.
 */
export const ENTRY_OVERHEAD_BYTES = 512;

/** What one cached query costs: its vector, its key (UTF-16, 2 bytes a character) and the entry's bookkeeping. */
export function entryBytes(key: string, vector: Float32Array): number {
  return vector.byteLength + key.length * 2 + ENTRY_OVERHEAD_BYTES;
}

/**
 * Query vectors by embedder identity and exact text, least recently used first out, bounded by bytes
 * (ERC_DEMOS_EMBED_CACHE_MB). lru-cache (isaacs) because it is the LRU most of npm already depends on, counts a
 * size per entry against a `maxSize`, and evicts in O(1) without a timer.
 */
export class QueryVectorCache {
  private readonly lru: LRUCache<string, Float32Array>;

  constructor(readonly maxBytes: number) {
    if (!(maxBytes > 0)) throw new RangeError(`a query cache needs a positive byte budget, got ${maxBytes}`);
    this.lru = new LRUCache<string, Float32Array>({ maxSize: maxBytes, sizeCalculation: (vector, key) => entryBytes(key, vector) });
  }

  get(key: string): Float32Array | undefined {
    return this.lru.get(key);
  }

  set(key: string, vector: Float32Array): void {
    // An entry above the whole budget is simply not kept (lru-cache would refuse it anyway).
    if (entryBytes(key, vector) <= this.maxBytes) this.lru.set(key, vector);
  }

  get entries(): number {
    return this.lru.size;
  }

  /** Bytes held, as counted by entryBytes (at most maxBytes). */
  get bytes(): number {
    return this.lru.calculatedSize;
  }
}

/** Who made a vector: the embedder id and a hash of the model files it loaded (a replaced model never hits). */
export function embedderIdentity(embedder: Embedder): string {
  const files = embedder.fingerprint ? createHash('sha256').update(JSON.stringify(embedder.fingerprint)).digest('hex').slice(0, 16) : 'unknown';
  return `${embedder.id}\u0000${files}\u0000`;
}

/**
 * An Embedder decorator that answers repeated query texts from a QueryVectorCache, for every door of a service (HTTP,
 * CLI, library): the same text asked twice is embedded once. A text already being embedded for another request is
 * joined rather than embedded again (MELD's "Okay." arrives at many connections at once). Requests that ask for
 * `fixedCalls` (a build's reproducible calls) pass through untouched: a build embeds each text once anyway.
 * Callers get a copy of a cached vector, so one that changes its vector in place cannot change another's.
 */
export class CachedEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  readonly description?: string;
  readonly fingerprint?: Embedder['fingerprint'];
  readonly loaded?: string;
  readonly maxChars?: number;
  /** Texts answered without a new embedding (from the cache, or joining one in flight), and those embedded. */
  readonly stats = { hits: 0, misses: 0 };
  private readonly prefix: string;
  private readonly inFlight = new Map<string, Promise<Float32Array>>();

  constructor(readonly inner: Embedder, readonly cache: QueryVectorCache) {
    this.id = inner.id;
    this.dim = inner.dim;
    this.description = inner.description;
    this.fingerprint = inner.fingerprint;
    this.loaded = inner.loaded;
    this.maxChars = inner.maxChars;
    this.prefix = embedderIdentity(inner);
  }

  /** Sentences waiting in the wrapped scheduler's queue (diagnostics, tests), where it has one. */
  get queued(): number | undefined {
    return (this.inner as { queued?: number }).queued;
  }

  embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    if (options.fixedCalls || options.callItems !== undefined) return this.inner.embed(texts, options);
    return Promise.all(this.embedEach(texts, options));
  }

  /** One promise per text, as ScheduledEmbedder.embedEach: hits settle at once, misses as their calls return. */
  embedEach(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array>[] {
    if (options.fixedCalls || options.callItems !== undefined) return this.innerEach(texts, options);
    const out = new Array<Promise<Float32Array>>(texts.length);
    const missed: number[] = [];
    /** A text repeated within this call: its later places, each with the place embedding it. */
    const repeats: [number, number][] = [];
    const firstMiss = new Map<string, number>();
    for (const [i, text] of texts.entries()) {
      const key = this.prefix + text;
      const cached = this.cache.get(key);
      const joined = cached ? undefined : this.inFlight.get(key);
      const first = firstMiss.get(key);
      if (cached) out[i] = Promise.resolve(cached.slice());
      else if (joined) out[i] = this.join(joined, text, options);
      else if (first !== undefined) repeats.push([i, first]);
      else {
        firstMiss.set(key, i);
        missed.push(i);
        continue;
      }
      this.stats.hits += 1;
    }
    this.stats.misses += missed.length;
    const fresh = missed.length === 0 ? [] : this.innerEach(missed.map((i) => texts[i]), options);
    missed.forEach((i, n) => {
      const key = this.prefix + texts[i];
      const vector = fresh[n].then((v) => {
        this.cache.set(key, v.slice());
        return v;
      });
      vector.catch(() => {});
      // Other requests asking for the same text join this one until it settles.
      this.inFlight.set(key, vector);
      const forget = () => {
        if (this.inFlight.get(key) === vector) this.inFlight.delete(key);
      };
      vector.then(forget, forget);
      out[i] = vector;
    });
    for (const [i, first] of repeats) {
      out[i] = out[first].then((v) => v.slice());
      out[i].catch(() => {});
    }
    return out;
  }

  /**
   * Another request's vector for the same text, copied. If that request is cancelled (its client left), this one
   * embeds the text itself, unless it was cancelled too.
   */
  private join(pending: Promise<Float32Array>, text: string, options: EmbedOptions): Promise<Float32Array> {
    const joined = pending.then((v) => v.slice(), (error: unknown) => {
      if (options.signal?.aborted) throw error;
      return this.innerEach([text], options)[0];
    });
    joined.catch(() => {});
    return joined;
  }

  private innerEach(texts: readonly string[], options: EmbedOptions): Promise<Float32Array>[] {
    if (this.inner.embedEach) return this.inner.embedEach(texts, options);
    const all = this.inner.embed(texts, options);
    const each = texts.map((_, n) => all.then((v) => v[n]));
    for (const vector of each) vector.catch(() => {});
    return each;
  }

  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve();
  }
}

/** Bytes of the cache from its setting (MB; 0: off). */
export function queryCacheBytes(megabytes: number): number {
  return Math.floor(megabytes * 1024 * 1024);
}

/** The embedder behind a cache, or the embedder itself: what schedules its calls (metrics read its queue). */
export function uncached(embedder: Embedder): Embedder {
  return embedder instanceof CachedEmbedder ? embedder.inner : embedder;
}

/** `embedder` with a query cache of `megabytes` (ERC_DEMOS_EMBED_CACHE_MB), or unchanged with 0. */
export function withQueryCache(embedder: Embedder, megabytes: number): Embedder {
  return megabytes > 0 ? new CachedEmbedder(embedder, new QueryVectorCache(queryCacheBytes(megabytes))) : embedder;
}
