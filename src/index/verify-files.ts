import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { sha256File } from './manifest.js';

/**
 * Files of at least this many bytes in all are hashed in a thread of their own, beside the main thread reading the
 * index (rows, graph): at 1M rows the files are 4.4 GB, seconds of SHA-256 the open no longer waits for in series.
 * Smaller indexes are hashed in the main thread (a thread's start, ~30 ms, would cost more than it saves).
 */
export const HASH_IN_THREAD_MIN_BYTES = 64 * 2 ** 20;

/**
 * The hashing thread (plain JavaScript, given as source so the package build has no file to copy): each path's
 * SHA-256 in the order given, each posted as it is done, or the error reading it.
 */
const HASH_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { closeSync, openSync, readSync } = require('node:fs');
const buffer = Buffer.allocUnsafe(1 << 20);
for (const path of workerData.paths) {
  try {
    const fd = openSync(path, 'r');
    try {
      const hash = createHash('sha256');
      for (let position = 0; ; ) {
        const n = readSync(fd, buffer, 0, buffer.length, position);
        if (n === 0) break;
        hash.update(buffer.subarray(0, n));
        position += n;
      }
      parentPort.postMessage({ path, sha256: hash.digest('hex') });
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    parentPort.postMessage({ path, error: String(error && error.message) });
  }
}
`;

interface HashMessage {
  path: string;
  sha256?: string;
  error?: string;
}

/**
 * Starts hashing `paths` (SHA-256, hex) and returns a promise per path, in that order: in a thread of its own when
 * they add up to HASH_IN_THREAD_MIN_BYTES or more (the first path first: give the one needed soonest first), else in
 * the main thread as its I/O allows. The promises settle whatever the caller does meanwhile.
 */
export function hashFiles(paths: readonly string[], minThreadBytes = HASH_IN_THREAD_MIN_BYTES): Promise<string>[] {
  const bytes = paths.reduce((n, p) => n + statSync(p).size, 0);
  if (bytes < minThreadBytes) {
    const all = paths.map((p) => sha256File(p));
    // Settled by the caller in turn; none is left to reject unobserved.
    for (const p of all) p.catch(() => undefined);
    return all;
  }
  const settle = new Map<string, { resolve: (sum: string) => void; reject: (error: Error) => void }>();
  const promises = paths.map((path) => new Promise<string>((resolve, reject) => settle.set(path, { resolve, reject })));
  for (const p of promises) p.catch(() => undefined);
  const worker = new Worker(HASH_THREAD, { eval: true, workerData: { paths: [...paths] } });
  worker.on('message', (message: HashMessage) => {
    const pending = settle.get(message.path);
    if (!pending) return;
    settle.delete(message.path);
    if (message.sha256 !== undefined) pending.resolve(message.sha256);
    else pending.reject(new Error(message.error ?? 'unreadable'));
  });
  const failAll = (error: Error) => {
    for (const pending of settle.values()) pending.reject(error);
    settle.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`the hashing thread exited (${code}) before hashing every file`)));
  return promises;
}
