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

  private constructor(private readonly workers: PoolWorker[]) {}

  static async start(size: number): Promise<UseLitePool> {
    const pool = new UseLitePool([]);
    await Promise.all(Array.from({ length: size }, () => new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL('./embed-worker.mjs', import.meta.url));
      const entry: PoolWorker = { worker, busy: undefined };
      worker.once('error', reject);
      worker.on('message', (message: { ready?: boolean; vectors?: Float32Array; error?: string }) => {
        if (message.ready) {
          pool.workers.push(entry);
          resolve();
        } else {
          pool.finish(entry, message);
        }
        // An idle worker must not keep the process alive: ref'd only while it holds a call (see dispatch()).
        if (!entry.busy) worker.unref();
      });
      worker.on('exit', (code) => {
        for (const item of entry.busy ?? []) item.reject(new Error(`embedder worker exited (${code})`));
        entry.busy = undefined;
      });
    })));
    return pool;
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
    const out = texts.map((text) => new Promise<Float32Array>((resolve, reject) => this.queue.push({ text, resolve, reject })));
    this.dispatch();
    return Promise.all(out);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
