import { Worker } from 'node:worker_threads';
import { EmbedderError } from '../errors.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { fingerprintDifferences, type EmbedderFingerprint } from './fingerprint.js';
import { DEFAULT_SCHEDULE, ScheduledEmbedder, type EmbedExecutor, type ScheduleOptions } from './scheduler.js';
import { capText } from './text-cap.js';

/**
 * What the pool's workers loaded: each hashed the files it read, so they must agree (a file replaced while the
 * workers loaded would make one serve another model).
 */
function loadedModel(executors: readonly WorkerExecutor[]): { fingerprint?: EmbedderFingerprint; loaded?: string; maxChars: number } {
  const [first] = executors;
  for (const other of executors.slice(1)) {
    const differences = first.fingerprint && other.fingerprint ? fingerprintDifferences(first.fingerprint, other.fingerprint) : [];
    if (differences.length > 0) throw new EmbedderError('MODEL_CHANGED', `the model's files changed while the embedder threads loaded them (${differences.join('; ')}); start again`);
  }
  return { fingerprint: first.fingerprint, loaded: first.loaded, maxChars: first.maxChars };
}

/** Which model a worker loads (embed-worker.mjs). */
export type WorkerModel = { kind: 'use-lite' } | { kind: 'transformers'; id: string; model: string; folder: string; prompt?: string; dtype?: string };

/**
 * One model (native USE-lite, or a sentence-transformers folder) on a worker thread: one call at a time. Idle, it does not keep
 * the process alive (ref'd only while it holds a call). A worker that dies (out of memory, say) fails its own call
 * and is gone; it is not restarted: a second onnxruntime session in a new thread after one was torn down can corrupt
 * the heap (onnxruntime#13086).
 */
export class WorkerExecutor implements EmbedExecutor {
  alive = true;
  onGone?: () => void;
  private call: { resolve: (v: Float32Array[]) => void; reject: (e: Error) => void } | undefined;

  private constructor(
    readonly worker: Worker,
    /** Characters of one text the model reads (ERC_DEMOS_MAX_EMBED_CHARS): longer texts are cut before they are sent. */
    readonly maxChars: number = DEFAULT_SETTINGS.maxEmbedChars,
  ) {}

  /** The model's dimension and what was read from its folder, as the worker reports them once loaded. */
  dim = 0;
  description?: string;
  fingerprint?: EmbedderFingerprint;
  loaded?: string;

  get threadId(): number {
    return this.worker.threadId;
  }

  /** Starts a worker; resolves once its model is loaded. */
  static start(model: WorkerModel = { kind: 'use-lite' }, maxChars?: number): Promise<WorkerExecutor> {
    return new Promise((resolve, reject) => {
      const executor = new WorkerExecutor(new Worker(new URL('./embed-worker.mjs', import.meta.url), { workerData: model }), maxChars);
      const { worker } = executor;
      worker.once('error', reject);
      worker.on('message', (message: { ready?: boolean; dim?: number; description?: string; fingerprint?: EmbedderFingerprint; loaded?: string; vectors?: Float32Array; error?: string }) => {
        if (message.ready) {
          executor.dim = message.dim!;
          executor.description = message.description;
          executor.fingerprint = message.fingerprint;
          executor.loaded = message.loaded;
          resolve(executor);
        } else executor.finish(message);
        if (!executor.call) worker.unref();
      });
      worker.on('exit', (code) => {
        executor.alive = false;
        const call = executor.call;
        executor.call = undefined;
        call?.reject(new Error(`embedder worker exited (${code})`));
        if (!call) executor.onGone?.();
      });
    });
  }

  run(texts: string[]): Promise<Float32Array[]> {
    if (!this.alive) return Promise.reject(new Error('embedder worker exited'));
    return new Promise((resolve, reject) => {
      this.call = { resolve, reject };
      this.worker.ref();
      this.worker.postMessage({ texts: texts.map((t) => capText(t, this.maxChars)) });
    });
  }

  private finish(message: { vectors?: Float32Array; error?: string }): void {
    const call = this.call;
    this.call = undefined;
    if (!call) return;
    if (message.error !== undefined) call.reject(new Error(`embedder worker: ${message.error}`));
    else call.resolve(Array.from({ length: message.vectors!.length / this.dim }, (_, n) => message.vectors!.slice(n * this.dim, (n + 1) * this.dim)));
  }
}

/**
 * Native USE-lite on `size` worker threads, scheduled fairly (scheduler.ts): the main thread stays free for HTTP
 * and graph search, and concurrent requests share calls. Same vectors as the in-thread embedder (same id): an index
 * built by one opens with the other. Closing does not terminate the threads (onnxruntime#13086): idle and unref'd,
 * they end with the process.
 */
export async function startUseLitePool(size: number, schedule: ScheduleOptions = DEFAULT_SCHEDULE, maxChars?: number): Promise<ScheduledEmbedder> {
  const executors = await Promise.all(Array.from({ length: size }, () => WorkerExecutor.start({ kind: 'use-lite' }, maxChars)));
  return new ScheduledEmbedder('use-lite', 512, executors, schedule, undefined, loadedModel(executors));
}

/**
 * A sentence-transformers folder on `size` worker threads, as USE-lite runs (same scheduler, same vectors as
 * in-thread): `id` is the embedder id stored in manifests, `folder` the local folder (downloaded already).
 */
export async function startTransformersPool(id: string, model: string, folder: string, size: number, schedule: ScheduleOptions = DEFAULT_SCHEDULE, prompt?: string, maxChars?: number, dtype?: string): Promise<ScheduledEmbedder> {
  const executors = await Promise.all(Array.from({ length: size }, () => WorkerExecutor.start({ kind: 'transformers', id, model, folder, prompt, dtype }, maxChars)));
  return new ScheduledEmbedder(id, executors[0].dim, executors, schedule, executors[0].description, loadedModel(executors));
}
