import { closeSync, openSync, readSync } from 'node:fs';

/** Closes each held file once its owner is gone (an index replaced by a reload is dropped, never closed). */
const closeWhenCollected = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
});

/**
 * Opens a file of an index for reading for as long as `owner` lives: what an open index reads later (vectors on
 * demand, the graph's links on the first cross-fitted search) comes from the files it checked when it opened, even
 * after a rebuild or a compaction has swapped another folder in under the same path (the old files stay readable
 * while open, though renamed or removed).
 */
export function holdFile(path: string, owner: object): number {
  const fd = openSync(path, 'r');
  closeWhenCollected.register(owner, fd);
  return fd;
}

/**
 * Fills `bytes` from the held file `fd` at `position` (a read may return fewer bytes than asked); a file shorter than
 * that is an error naming `what` and where it ended.
 */
export function readFullyAt(fd: number, bytes: Uint8Array, position: number, what: string): void {
  for (let done = 0; done < bytes.length; ) {
    const n = readSync(fd, bytes, done, bytes.length - done, position + done);
    if (n === 0) throw new Error(`${what} ended at byte ${position + done}, expected ${position + bytes.length}`);
    done += n;
  }
}
