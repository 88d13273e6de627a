import { createWriteStream, fsyncSync, openSync, closeSync, renameSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { ExportRefusedError } from '../errors.js';
import { removeDeadTemporaries } from '../index/recover.js';

/** Where an export's lines go: written in order, then committed (or aborted, leaving nothing of themselves). */
export interface LineSink {
  write(text: string): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** A write failure, with the path it was for (a full disk's ENOSPC names no file of its own). */
function failedWrite(path: string, error: Error, atomic = true): ExportRefusedError {
  return new ExportRefusedError(path, `could not write ${path} (${error.message})${atomic ? '; nothing was replaced' : ''}`);
}

/**
 * Lines into `<path>.tmp-<pid>`, renamed over `path` on commit (after an fsync, so a power cut leaves the old file or
 * the whole new one), removed on abort: a failed or interrupted export never leaves a truncated file under the
 * requested name. Temporary files of killed exports to the same path are removed first.
 */
export async function atomicFileSink(path: string): Promise<LineSink> {
  const tmp = `${path}.tmp-${process.pid}`;
  removeDeadTemporaries(path);
  const stream: WriteStream = createWriteStream(tmp, { encoding: 'utf8' });
  let streamError: Error | undefined;
  stream.on('error', (error) => (streamError = error));
  try {
    await once(stream, 'open');
  } catch (error) {
    throw failedWrite(path, error as Error);
  }
  return {
    async write(text) {
      // once() rejects on an 'error' while waiting for 'drain'; the error is kept by the listener above.
      if (!streamError && !stream.write(text)) await once(stream, 'drain').catch(() => undefined);
      if (streamError) throw failedWrite(path, streamError);
    },
    async commit() {
      try {
        // An error already emitted (a flush that failed after the last write) would leave 'finish' never to come.
        if (!streamError) {
          stream.end();
          await once(stream, 'finish');
        }
        if (streamError) throw streamError;
        syncFile(tmp);
        renameSync(tmp, path);
      } catch (error) {
        rmSync(tmp, { force: true });
        throw failedWrite(path, streamError ?? (error as Error));
      }
    },
    async abort() {
      if (!stream.destroyed) {
        // Not events.once: it rejects on the 'error' a destroyed stream may still emit, hiding the real failure.
        const closed = new Promise<void>((resolveClose) => stream.once('close', () => resolveClose()));
        stream.destroy();
        await closed;
      }
      rmSync(tmp, { force: true });
    },
  };
}

/** Lines into a stream the caller owns (standard output for `--out -`): not atomic, not closed. */
export function streamSink(stream: Writable, name = 'the output stream'): LineSink {
  let streamError: Error | undefined;
  // A reader gone (EPIPE: `| head`) ends the export with that said, not an unhandled 'error'.
  stream.on('error', (error) => (streamError = error));
  return {
    async write(text) {
      if (!streamError && !stream.write(text)) await once(stream, 'drain').catch(() => undefined);
      if (streamError) throw failedWrite(name, streamError, false);
    },
    async commit() {},
    async abort() {},
  };
}

/** A small file replaced atomically (written beside, synced, renamed). */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    syncFile(tmp);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw failedWrite(path, error as Error);
  }
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
