import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { IndexLoadError, WriteBusyError, WriteFailedError } from '../errors.js';
import { SETTINGS_TABLE } from '../settings.js';
import { FILES } from '../index/manifest.js';
import type { DemoIndex } from '../index/open.js';
import { WriteRefused, type Write } from '../index/written.js';
import { builtIdentity, WriteLog, writeLogFile, type LoggedWrite } from './log.js';

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
   * Writes durably, then applies in memory: under the log's lock, the writes of other processes come first, then this
   * one is checked against the index as they leave it (a WriteRefused names the field), committed and synced. Returns
   * its seq; when it returns, the write is on disk and this index answers with it.
   */
  write(write: Write): number {
    if (!this.stillBuilt()) {
      // A compaction swapped the folder: `serve` reopens it at its next look, so the same write succeeds on a retry.
      throw new WriteBusyError('the index folder now holds another build (compacted or rebuilt) that this process is about to reopen; nothing was written: retry');
    }
    let seq: number;
    try {
      this.log ??= WriteLog.open(this.index.dir, this.index.manifest.embedder.dim, { create: true, busyTimeoutMs: this.settings.busyTimeoutMs })!;
      seq = this.log.append(this.applied, write, (writes) => this.catchUp(writes), () => this.index.checkWrite(write));
    } catch (error) {
      throw storageError(error);
    }
    this.index.applyWrites([write]);
    this.applied = seq;
    return seq;
  }

  /**
   * Hands the folder over to a new build (a compaction): holding this log's lock, the writes made since this index
   * was opened are copied into the log of the build in `tmp`, then `swapIn` moves it into place and this log is
   * retired. Writers waiting meanwhile find it retired and write nothing (they retry once their index is reopened);
   * every write acknowledged before is in the new folder.
   */
  handOver(tmp: string, swapIn: () => void): number {
    const log = (this.log ??= WriteLog.open(this.index.dir, this.index.manifest.embedder.dim, { create: true, busyTimeoutMs: this.settings.busyTimeoutMs })!);
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
