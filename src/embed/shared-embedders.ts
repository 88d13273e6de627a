import { fingerprintDifferences, type EmbedderFingerprint } from './fingerprint.js';
import type { Embedder } from './types.js';

/** What a pool was made for: its spec, and the model files an index wanted when it had to be made anew. */
interface Held {
  readonly embedder: Promise<Embedder>;
  /** The fingerprint that made it (an index built with other files than the pool before it had loaded). */
  readonly madeFor?: string;
}

const key = (fingerprint: EmbedderFingerprint | undefined): string | undefined => (fingerprint ? JSON.stringify(fingerprint) : undefined);

/**
 * The embedders of a long-running process (`serve`), kept across every opening of its indexes. An embedder's worker
 * threads cannot be ended safely (a torn-down onnxruntime thread can corrupt the heap when the next one starts,
 * onnxruntime#13086), so a reload that made its own pool would add threads and model memory each time: here a
 * reload reuses the pool of the same spec. Only when an index was built with other model files than the pool
 * loaded (the folder replaced and the index rebuilt) is a new pool made, once per such change of files; the old
 * one is left idle. Closed with the process, by its owner.
 */
export class SharedEmbedders {
  private readonly held = new Map<string, Held>();
  /** Pools replaced by a newer one for the same spec: idle, kept to be closed at the end. */
  private readonly superseded: Promise<Embedder>[] = [];

  constructor(private readonly make: (spec: string) => Promise<Embedder>) {}

  /** Embedder pools made so far (for tests and diagnostics): at most one per spec, plus one per change of files. */
  get made(): number {
    return this.held.size + this.superseded.length;
  }

  /**
   * The embedder for `spec`: the one already held, unless `wanted` (the model files an index was built with)
   * differs from what it loaded and no pool was made for those files yet.
   */
  async get(spec: string, wanted?: EmbedderFingerprint): Promise<Embedder> {
    const held = this.held.get(spec);
    if (held) {
      const embedder = await held.embedder.catch(() => undefined);
      const differs = embedder !== undefined && wanted !== undefined && embedder.fingerprint !== undefined && fingerprintDifferences(wanted, embedder.fingerprint).length > 0;
      // A pool made for these files that loaded others (the index is stale): the index's open will say so.
      if (embedder && (!differs || held.madeFor === key(wanted))) return embedder;
      if (embedder) this.superseded.push(held.embedder);
    }
    const made: Held = { embedder: this.make(spec), madeFor: held ? key(wanted) : undefined };
    this.held.set(spec, made);
    // A pool that failed to start is not kept: the next opening tries again.
    made.embedder.catch(() => {
      if (this.held.get(spec) === made) this.held.delete(spec);
    });
    return made.embedder;
  }

  /** Closes every pool (waiting for the calls in flight): at the process's end. */
  async close(): Promise<void> {
    const all = [...[...this.held.values()].map((h) => h.embedder), ...this.superseded];
    await Promise.all(all.map(async (pending) => (await pending.catch(() => undefined))?.close?.()));
  }
}
