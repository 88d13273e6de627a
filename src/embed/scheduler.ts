import { CancelledError } from '../errors.js';
import { FairQueue, fixedCalls, type FairTicket, type QueuedItem } from './fair-queue.js';
import type { EmbedderFingerprint } from './fingerprint.js';
import { currentTenant } from './tenant.js';
import type { EmbedOptions, Embedder } from './types.js';

/** Something that embeds one call of sentences at a time: a worker thread, or a model in this thread. */
export interface EmbedExecutor {
  run(texts: string[]): Promise<Float32Array[]>;
  /** False once it can take no more calls (its thread died). */
  readonly alive: boolean;
  /** Called by the executor when it dies while idle, so queued work does not wait on it. */
  onGone?: () => void;
  /** Thread id, where it has one (diagnostics and tests). */
  readonly threadId?: number;
}

export interface ScheduleOptions {
  /** Sentences in one call, at most. */
  callItems: number;
  /**
   * Characters in one call, at most (a longer sentence goes alone). Bounds how long any call holds an executor,
   * which is how long a single query can wait behind a batch: a 2000-character sentence costs ~25 ms to tokenise
   * and embed on one core, a 50-character one ~1 ms.
   */
  callChars: number;
  /** Executors one request may hold at once; the rest stay free for others. */
  maxExecutorsPerRequest: number;
}

/** Default call size; docs/RELIABILITY.md says how the character budget was chosen. */
export const DEFAULT_SCHEDULE: ScheduleOptions = { callItems: 32, callChars: 3072, maxExecutorsPerRequest: Number.POSITIVE_INFINITY };

interface Pending {
  text: string;
  resolve: (vector: Float32Array) => void;
  reject: (error: Error) => void;
}

/**
 * An Embedder whose calls are scheduled fairly over a set of executors. Each `embed()` is one ticket in a fair
 * queue (fair-queue.ts), in the flow of the tenant it runs for (tenant.ts: an API key, an anonymous client's
 * address; none outside a served request, then the ticket is a flow of its own): its sentences are cut into calls of at most `callItems` sentences and `callChars`
 * characters, and calls take sentences from the tickets served least so far, so a single query waits for at most
 * the calls in flight however big the batches around it. Sentences of different requests share a call (the native
 * model packs them without padding), which is how concurrent single queries are micro-batched without a timer.
 * An aborted signal drops the ticket's waiting sentences; calls already running finish and are discarded.
 *
 * Which sentences share a call depends on timing, and a model that packs (USE-lite) or pads a call gives a sentence a
 * vector that differs by ~1e-6 with its company. A request that asks for `fixedCalls` (a build) is cut into calls of
 * its own at fixed positions, `callItems` sentences and `callChars` characters at most from its start, each served
 * whole: its vectors depend only on its texts (and the schedule's limits), so two builds write the same bytes.
 */
export class ScheduledEmbedder implements Embedder {
  private readonly queue = new FairQueue<Pending>();
  private readonly idle: EmbedExecutor[];
  private readonly inFlight = new Map<FairTicket<Pending>, number>();
  private running = 0;
  private closed = false;
  readonly fingerprint?: EmbedderFingerprint;
  readonly loaded?: string;
  readonly maxChars?: number;
  /** Observes each call as it starts (sentences, characters): metrics. */
  onCall?: (sentences: number, chars: number) => void;

  constructor(
    readonly id: string,
    readonly dim: number,
    readonly executors: EmbedExecutor[],
    private readonly options: ScheduleOptions = DEFAULT_SCHEDULE,
    readonly description?: string,
    /**
     * What the executors loaded: the model files' hashes (an index records them) and the model file, where known;
     * the characters of one text they read (they cut longer texts).
     */
    model: { fingerprint?: EmbedderFingerprint; loaded?: string; maxChars?: number } = {},
  ) {
    this.fingerprint = model.fingerprint;
    this.loaded = model.loaded;
    this.maxChars = model.maxChars;
    this.idle = [...executors];
    for (const executor of executors) executor.onGone = () => this.dispatch();
  }

  /** Thread ids of the live executors that run on threads of their own. */
  get threadIds(): number[] {
    return this.executors.filter((e) => e.alive && e.threadId !== undefined).map((e) => e.threadId!);
  }

  /** Sentences waiting for an executor (all requests). */
  get queued(): number {
    return this.queue.size;
  }

  private get live(): number {
    return this.executors.filter((e) => e.alive).length;
  }

  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    return Promise.all(this.embedEach(texts, options));
  }

  /**
   * The same ticket as `embed`, one promise per sentence, each settled as soon as its call returns: a batch can use
   * (and stream) its first results while the rest are still queued. Sentences of one ticket are served in order, so
   * the promises settle in order. A rejection nobody awaits (the caller stopped early) is not reported as unhandled.
   */
  embedEach(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array>[] {
    const { signal } = options;
    const refused = this.closed ? new Error('embedder closed')
      : this.live === 0 ? new Error('no embedder worker is running; restart the process')
        : signal?.aborted ? new CancelledError() : undefined;
    if (refused) {
      return texts.map(() => {
        const failed = Promise.reject(refused);
        failed.catch(() => {});
        return failed;
      });
    }
    if (texts.length === 0) return [];
    const items: QueuedItem<Pending>[] = [];
    const vectors = texts.map((text) => new Promise<Float32Array>((resolve, reject) => {
      items.push({ value: { text, resolve, reject }, cost: Math.max(1, text.length) });
    }));
    for (const vector of vectors) vector.catch(() => {});
    const callItems = Math.min(this.options.callItems, options.callItems ?? Number.POSITIVE_INFINITY);
    const calls = options.fixedCalls || options.callItems !== undefined ? fixedCalls(items.map((i) => i.cost), callItems, this.options.callChars) : undefined;
    const ticket = this.queue.add(items, calls, currentTenant());
    const cancel = () => {
      for (const pending of this.queue.cancel(ticket)) pending.reject(new CancelledError());
    };
    if (signal) {
      signal.addEventListener('abort', cancel, { once: true });
      void Promise.allSettled(vectors).then(() => signal.removeEventListener('abort', cancel));
    }
    this.dispatch();
    return vectors;
  }

  private dispatch(): void {
    for (let i = this.idle.length - 1; i >= 0; i--) if (!this.idle[i].alive) this.idle.splice(i, 1);
    if (this.live === 0) {
      for (const pending of this.queue.clear()) pending.reject(new Error('embedder worker exited; restart the process'));
      return;
    }
    while (this.idle.length > 0 && this.queue.size > 0) {
      const call = this.queue.take({
        maxItems: this.options.callItems,
        maxCost: this.options.callChars,
        eligible: (ticket) => (this.inFlight.get(ticket) ?? 0) < this.options.maxExecutorsPerRequest,
      });
      if (call.length === 0) return; // every waiting request is at its share of the executors
      const executor = this.idle.pop()!;
      const tickets = new Set(call.map((c) => c.ticket));
      for (const ticket of tickets) this.inFlight.set(ticket, (this.inFlight.get(ticket) ?? 0) + 1);
      this.running += 1;
      this.onCall?.(call.length, call.reduce((n, c) => n + c.value.text.length, 0));
      const settle = (outcome: { vectors?: Float32Array[]; error?: Error }) => {
        this.running -= 1;
        for (const ticket of tickets) {
          const left = this.inFlight.get(ticket)! - 1;
          if (left === 0) this.inFlight.delete(ticket);
          else this.inFlight.set(ticket, left);
        }
        call.forEach(({ value }, n) => (outcome.error ? value.reject(outcome.error) : value.resolve(outcome.vectors![n])));
        if (executor.alive) this.idle.push(executor);
        this.dispatch();
      };
      executor.run(call.map((c) => c.value.text)).then((vectors) => settle({ vectors }), (error: unknown) => settle({ error: error as Error }));
    }
  }

  /** Refuses queued and later sentences and waits for the calls in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.clear()) pending.reject(new Error('embedder closed'));
    while (this.running > 0) await new Promise((r) => setTimeout(r, 5));
  }
}

/** A model in this thread as an executor (no worker threads: ERC_DEMOS_EMBED_THREADS=0, transformers.js). */
export function inThread(model: Embedder): EmbedExecutor {
  return { alive: true, run: (texts) => model.embed(texts) };
}
