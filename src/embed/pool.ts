import { Worker } from 'node:worker_threads';
import { normalize, type Embedder } from './types.js';
import { lengthSortedCalls, USE_LITE_CALL_SIZE } from './use-lite.js';

interface Pending {
  resolve: (v: Float32Array) => void;
  reject: (e: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

/**
 * USE-lite on several worker threads (one model each): a batch is cut into length-sorted model calls that go to
 * the least busy worker, so a build uses every core and concurrent requests do not queue behind one another.
 * Same vectors as UseLiteEmbedder (same id): an index built by one opens with the other.
 */
export class UseLitePool implements Embedder {
  readonly id = 'use-lite';
  readonly dim = 512;
  private nextId = 0;

  private constructor(private readonly workers: PoolWorker[]) {}

  static async start(size: number): Promise<UseLitePool> {
    const workers = await Promise.all(Array.from({ length: size }, () => new Promise<PoolWorker>((resolve, reject) => {
      const worker = new Worker(new URL('./use-lite-worker.mjs', import.meta.url));
      const entry: PoolWorker = { worker, pending: new Map() };
      worker.once('error', reject);
      worker.on('message', (message: { ready?: boolean; id?: number; vectors?: Float32Array; error?: string }) => {
        if (message.ready) {
          resolve(entry);
          return;
        }
        const waiting = entry.pending.get(message.id!);
        if (!waiting) return;
        entry.pending.delete(message.id!);
        if (entry.pending.size === 0) worker.unref();
        if (message.error !== undefined) waiting.reject(new Error(`embedder worker: ${message.error}`));
        else waiting.resolve(message.vectors!);
      });
      worker.on('exit', (code) => {
        for (const p of entry.pending.values()) p.reject(new Error(`embedder worker exited (${code})`));
        entry.pending.clear();
      });
    })));
    // An idle worker must not keep the process alive: referenced only while it has work (see call()).
    for (const w of workers) w.worker.unref();
    return new UseLitePool(workers);
  }

  private call(texts: string[]): Promise<Float32Array> {
    const target = this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      target.pending.set(id, { resolve, reject });
      target.worker.ref();
      target.worker.postMessage({ id, texts });
    });
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = new Array(texts.length);
    await Promise.all(lengthSortedCalls(texts, USE_LITE_CALL_SIZE).map(async (call) => {
      const flat = await this.call(call.map((i) => texts[i]));
      call.forEach((i, n) => (out[i] = normalize(flat.slice(n * this.dim, (n + 1) * this.dim))));
    }));
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
