import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { IndexLoadError, WriteBusyError, WriteFailedError } from '../errors.js';
import { SETTINGS_TABLE } from '../settings.js';
import { FILES } from '../index/manifest.js';
import type { DemoIndex } from '../index/open.js';
import { WriteRefused, type Write } from '../index/written.js';
import { builtIdentity, encodeWrite, WriteLog, writeLogFile, type EncodedWrite, type LoggedWrite } from './log.js';
import { CommitError, LogCommitter, type CommitOutcome } from './log-committer.js';

export interface WriteLogSettings {
  /** How long a writer waits for another process's write to the same index before failing (ms). */
  busyTimeoutMs: number;
}

/** Where an index stands against its folder: in step, or the folder now holds another build (compacted, rebuilt). */
export type FollowState = 'current' | 'rebuilt';

/**
 * SQLite failing to store a write as the error a door answers; either way nothing was written. Its lock held by
 * another process past the timeout: WRITE_BUSY, to retry; a full disk, a folder it cannot write, an I/O error:
 * WRITE_FAILED.
 */
function storageError(error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return error;
  if (code === 'SQLITE_BUSY') {
    const variable = SETTINGS_TABLE.find((s) => s.name === 'writeLockTimeoutMs')!.env;
    return new WriteBusyError(`another process kept this index's write lock past ${variable}; nothing was written, retry`);
  }
  return new WriteFailedError(`the index's write log could not be written (${code}: ${(error as Error).message}); nothing was written`);
}

/**
 * One opened index kept in step with its write log: replays the log at open, applies what other processes wrote when
 * asked (refresh: serve polls it), and writes through the log, so a write acknowledged here is durable and every
 * process holding the folder applies the same writes in the same order.
 */
export class IndexWrites {
  private log: WriteLog | undefined;
  /** Commits this process's writes in a thread of their own (started by the first write). */
  private committer: LogCommitter | undefined;
  /** This process's last write: the next one commits after it settles. */
  private lastWrite: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** The seq of the last write applied to the index in memory. */
  private applied = 0;
  private readonly identity: string;

  private constructor(
    readonly index: DemoIndex,
    private readonly settings: WriteLogSettings,
  ) {
    this.identity = builtIdentity(index.dir);
  }

  /** Opens the index's log, if it has one, and applies every write in it. */
  static open(index: DemoIndex, settings: WriteLogSettings): IndexWrites {
    const writes = new IndexWrites(index, settings);
    writes.log = WriteLog.open(index.dir, index.manifest.embedder.dim, { create: false, busyTimeoutMs: settings.busyTimeoutMs });
    writes.catchUp(writes.log?.since(0) ?? []);
    return writes;
  }

  /** The seq of the last write this index holds. */
  get seq(): number {
    return this.applied;
  }

  /**
   * Applies the writes other processes made since the last call (opening the log if one appeared), and says whether
   * the folder still holds the build this index was opened from: `rebuilt` once a compaction or a build replaced it,
   * so the caller reopens it. Cheap when nothing changed: one query of the log's head.
   */
  refresh(): FollowState {
    if (!this.stillBuilt()) return 'rebuilt';
    this.log ??= WriteLog.open(this.index.dir, this.index.manifest.embedder.dim, { create: false, busyTimeoutMs: this.settings.busyTimeoutMs });
    if (this.log && this.log.head() > this.applied) this.catchUp(this.log.since(this.applied));
    return 'current';
  }

  /**
   * Writes durably, then applies in memory: checked against the index with every write committed before it (by any
   * process), then committed off the main thread on condition that none came since; when one did, it is applied and
   * the write checked again (a WriteRefused names the field). Returns its seq; when the promise resolves, the write is
   * on disk and this index answers with it. A process's own writes commit one after another, in the order called.
   */
  write(write: Write): Promise<number> {
    const turn = this.lastWrite.then(() => this.commitInTurn(write));
    this.lastWrite = turn.catch(() => undefined);
    return turn;
  }

  private async commitInTurn(write: Write): Promise<number> {
    // Closed (a reload replaced this index) while the write waited for its turn: nothing is opened again here.
    if (this.closed) throw new WriteBusyError('the index was reloaded while this write waited for its turn; nothing was written: retry');
    const encoded = encodeWrite(write);
    const deadline = performance.now() + this.settings.busyTimeoutMs;
    for (;;) {
      if (!this.stillBuilt()) {
        // A compaction swapped the folder: `serve` reopens it at its next look, so the same write succeeds on a retry.
        throw new WriteBusyError('the index folder now holds another build (compacted or rebuilt) that this process is about to reopen; nothing was written: retry');
      }
      let outcome: CommitOutcome;
      let after = this.applied;
      const log = this.openLog();
      try {
        this.catchUp(log.since(after));
        after = this.applied;
        this.index.checkWrite(write);
        this.committer ??= new LogCommitter(log.path, this.settings.busyTimeoutMs);
        outcome = await this.committer.commit(after, encoded);
      } catch (error) {
        outcome = this.settledElsewise(log, after, encoded, error);
      }
      if (outcome.kind === 'retired') throw new WriteBusyError('the index was compacted while this write waited for its turn; nothing was written: retry it');
      if (outcome.kind === 'committed') {
        // refresh() may have applied it from the log while the commit was answered; else it is applied here.
        if (this.applied === after) {
          this.index.applyWrites([write]);
          this.applied = outcome.seq;
        }
        return outcome.seq;
      }
      // Another process wrote first: catch up and check again, until the lock timeout says the log is too busy.
      if (performance.now() > deadline) throw storageError(new CommitError('SQLITE_BUSY', 'other writers kept committing first'));
    }
  }

  /**
   * A commit whose thread ended before answering (killed with its process's teardown, out of memory) may have been
   * committed or not: the log says which, so the caller is told the truth. Any other failure maps to a door's error.
   */
  private settledElsewise(log: WriteLog, after: number, encoded: EncodedWrite, error: unknown): CommitOutcome {
    if (!(error instanceof CommitError) || error.code !== undefined) throw storageError(error);
    const next = log.rawAt(after + 1);
    if (next && next.op === encoded.op && next.body === encoded.body) return { kind: 'committed', seq: after + 1 };
    throw new WriteFailedError(`${error.message}; the log does not hold this write, so nothing was written`);
  }

  private openLog(): WriteLog {
    try {
      return (this.log ??= WriteLog.open(this.index.dir, this.index.manifest.embedder.dim, { create: true, busyTimeoutMs: this.settings.busyTimeoutMs })!);
    } catch (error) {
      throw storageError(error);
    }
  }

  /**
   * Hands the folder over to a new build (a compaction): holding this log's lock, the writes made since this index
   * was opened are copied into the log of the build in `tmp`, then `swapIn` moves it into place and this log is
   * retired. Writers waiting meanwhile find it retired and write nothing (they retry once their index is reopened);
   * every write acknowledged before is in the new folder.
   */
  handOver(tmp: string, swapIn: () => void): number {
    const log = this.openLog();
    let carried = 0;
    log.retireWith(() => {
      const pending = log.since(this.applied);
      if (pending.length > 0) {
        const next = WriteLog.open(tmp, this.index.manifest.embedder.dim, { create: true, busyTimeoutMs: this.settings.busyTimeoutMs })!;
        try {
          next.copyFrom(pending);
        } finally {
          next.close();
        }
      }
      carried = pending.length;
      swapIn();
    });
    return carried;
  }

  close(): void {
    this.closed = true;
    this.committer?.close();
    this.committer = undefined;
    this.log?.close();
    this.log = undefined;
  }

  private catchUp(writes: readonly LoggedWrite[]): void {
    if (writes.length === 0) return;
    try {
      this.index.applyWrites(writes.map((w) => w.write));
    } catch (error) {
      if (!(error instanceof WriteRefused)) throw error;
      throw new IndexLoadError(this.index.dir, `${writeLogFile(this.identity)} does not apply to this index (${error.param}: ${error.message}); it was damaged or written to another build`);
    }
    this.applied = writes[writes.length - 1].seq;
  }

  /** Whether the folder still holds the build this index was opened from (a compaction or rebuild replaces it). */
  private stillBuilt(): boolean {
    const sum = join(this.index.dir, FILES.manifestSum);
    try {
      return existsSync(sum) && builtIdentity(this.index.dir) === this.identity;
    } catch {
      return false;
    }
  }
}
