import { Worker } from 'node:worker_threads';
import type { Embedder } from './types.js';

/** Sentences handed to a worker at once, at most (it packs them into model calls of up to 256 tokens). */
export const CALL_SIZE = 32;

interface Item {
  text: string;
  resolve: (v: Float32Array) => void;
  reject: (e: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  /** The call in flight, or undefined when idle. */
  busy: Item[] | undefined;
}

/**
 * Native USE-lite (UseLiteOnnxEmbedder) on worker threads, one model each, fed from one queue of sentences. An idle
 * worker takes the next call at once, so a lone request waits for nothing; while all are busy, sentences queue and
 * the next free worker takes up to CALL_SIZE of them in one call. So concurrent requests are micro-batched without
 * a fixed delay, and the main thread stays free for HTTP and graph search meanwhile. Same vectors as the in-thread
 * embedder (same id): an index built by one opens with the other.
 */
export class UseLitePool implements Embedder {
  readonly id = 'use-lite';
  readonly dim = 512;
  private readonly queue: Item[] = [];
  private readonly workers: PoolWorker[] = [];
  private closed = false;

  private constructor() {}

  static async start(size: number): Promise<UseLitePool> {
    const pool = new UseLitePool();
    await Promise.all(Array.from({ length: size }, () => pool.spawn()));
    return pool;
  }

  /** Threads currently embedding for this pool (for tests and diagnostics). */
  get threadIds(): number[] {
    return this.workers.map((w) => w.worker.threadId);
  }

  /** Starts one worker; it joins the pool once its model is loaded. */
  private spawn(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL('./embed-worker.mjs', import.meta.url));
      const entry: PoolWorker = { worker, busy: undefined };
      worker.once('error', reject);
      worker.on('message', (message: { ready?: boolean; vectors?: Float32Array; error?: string }) => {
        if (message.ready) {
          this.workers.push(entry);
          resolve();
          this.dispatch();
        } else {
          this.finish(entry, message);
        }
        // An idle worker must not keep the process alive: ref'd only while it holds a call (see dispatch()).
        if (!entry.busy) worker.unref();
      });
      worker.on('exit', (code) => {
        // A worker that dies (out of memory, say) fails its own call and leaves the pool, so nothing waits on a
        // thread that is gone; with none left, queued and later sentences fail at once. Not restarted: a second
        // onnxruntime session in a new thread after one was torn down can corrupt the heap (onnxruntime#13086).
        for (const item of entry.busy ?? []) item.reject(new Error(`embedder worker exited (${code})`));
        entry.busy = undefined;
        const at = this.workers.indexOf(entry);
        if (at >= 0) this.workers.splice(at, 1);
        if (this.workers.length === 0) this.failQueued(`embedder worker exited (${code}); restart the process`);
      });
    });
  }

  private failQueued(reason: string): void {
    for (const item of this.queue.splice(0)) item.reject(new Error(reason));
  }

  private finish(w: PoolWorker, message: { vectors?: Float32Array; error?: string }): void {
    const items = w.busy ?? [];
    w.busy = undefined;
    items.forEach((item, n) => {
      if (message.error !== undefined) item.reject(new Error(`embedder worker: ${message.error}`));
      else item.resolve(message.vectors!.slice(n * this.dim, (n + 1) * this.dim));
    });
    this.dispatch();
  }

  private dispatch(): void {
    for (const w of this.workers) {
      if (this.queue.length === 0) return;
      if (w.busy) continue;
      const call = this.queue.splice(0, CALL_SIZE); // whichever requests the sentences came from
      w.busy = call;
      w.worker.ref();
      w.worker.postMessage({ texts: call.map((i) => i.text) });
    }
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    if (this.closed) throw new Error('embedder closed');
    if (this.workers.length === 0) throw new Error('no embedder worker is running; restart the process');
    const out = texts.map((text) => new Promise<Float32Array>((resolve, reject) => this.queue.push({ text, resolve, reject })));
    this.dispatch();
    return Promise.all(out);
  }

  /**
   * Refuses queued and later sentences, waits for the calls in flight, and lets the workers go (unref'd, they do
   * not hold the process). They are not terminated: ending a thread that holds an onnxruntime session and then
   * starting another one in the same process can corrupt the heap (onnxruntime#13086); they end with the process.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.failQueued('embedder closed');
    while (this.workers.some((w) => w.busy)) await new Promise((r) => setTimeout(r, 5));
    for (const w of this.workers) w.worker.unref();
  }
}
