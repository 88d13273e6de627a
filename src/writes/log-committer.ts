import { Worker } from 'node:worker_threads';
import type { EncodedWrite } from './log.js';

/** What a commit came to: committed as `seq`; refused because another write came first (`stale`); a retired log. */
export type CommitOutcome = { kind: 'committed'; seq: number } | { kind: 'stale'; head: number } | { kind: 'retired' };

/** SQLite's failure in the commit thread, with its code (SQLITE_BUSY, SQLITE_FULL, ...) for the caller to map. */
export class CommitError extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

interface Answer {
  id: number;
  seq?: number;
  stale?: number;
  retired?: boolean;
  error?: { code?: string; message: string };
}

interface Pending {
  resolve: (outcome: CommitOutcome) => void;
  reject: (error: Error) => void;
}

/**
 * One write log's commits in a thread of their own (commit-worker.mjs), so the main thread never waits for SQLite's
 * lock or fsync: a commit is optimistic, taken only if the log's last write is still the one the caller checked its
 * write against, else answered `stale` for the caller to catch up and check again. Started on the first commit (a
 * process that only reads never starts it); it holds the process alive only while a commit is in flight, and close()
 * ends it after the commits already sent, so a reload never leaves a thread behind.
 */
export class LogCommitter {
  private thread: CommitThread | undefined;
  private next = 1;

  constructor(
    private readonly path: string,
    private readonly busyTimeoutMs: number,
  ) {}

  /** Appends the write if the log's last write is `after`, committed and synced when the promise settles. */
  commit(after: number, write: EncodedWrite): Promise<CommitOutcome> {
    const { worker, pending } = (this.thread ??= this.start());
    const id = this.next++;
    return new Promise<CommitOutcome>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      if (pending.size === 1) worker.ref();
      worker.postMessage({ id, after, at: new Date().toISOString(), op: write.op, body: write.body, vectors: write.vectors });
    });
  }

  /** Ends the thread once the commits sent before have been answered (their promises settle as usual). */
  close(): void {
    this.thread?.worker.postMessage({ close: true });
    this.thread = undefined;
  }

  private start(): CommitThread {
    const worker = new Worker(new URL('./commit-worker.mjs', import.meta.url), { workerData: { path: this.path, busyTimeoutMs: this.busyTimeoutMs } });
    const thread: CommitThread = { worker, pending: new Map() };
    worker.unref();
    worker.on('message', (answer: Answer) => answered(thread, answer));
    // The thread failing or ending: every commit it still held fails (none was acknowledged); the next starts a new one.
    const failAll = (error: Error) => {
      if (this.thread === thread) this.thread = undefined;
      for (const p of thread.pending.values()) p.reject(error);
      thread.pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new CommitError(undefined, `the write log's commit thread ended (exit code ${code}) before answering`)));
    return thread;
  }
}

/** A commit thread and the commits it has not answered yet, by id. */
interface CommitThread {
  worker: Worker;
  pending: Map<number, Pending>;
}

function answered({ worker, pending }: CommitThread, answer: Answer): void {
  const p = pending.get(answer.id);
  if (!p) return;
  pending.delete(answer.id);
  if (pending.size === 0) worker.unref();
  if (answer.error) p.reject(new CommitError(answer.error.code, answer.error.message));
  else if (answer.retired) p.resolve({ kind: 'retired' });
  else if (answer.stale !== undefined) p.resolve({ kind: 'stale', head: answer.stale });
  else p.resolve({ kind: 'committed', seq: answer.seq! });
}
