// The write log's commits, off the main thread: a synced SQLite commit (WAL, synchronous=FULL) costs a few ms and at
// times tens of ms of fsync, which on the main thread every query waiting behind it would pay (issue 24: GET latency
// under writes). Plain JavaScript, copied as is into dist/ by the build (scripts/build-dist.mjs).
// workerData: {path, busyTimeoutMs}. Protocol, one message at a time, answered in order:
//   in  {id, after, op, at, body, vectors}: append this write if the log's last write is still `after`
//   out {id, seq} committed and synced | {id, stale: head} another write came first, nothing written |
//       {id, retired: true} the log was retired by a compaction, nothing written | {id, error: {code, message}}
//   in  {close: true}: close the database and end the thread (after every commit sent before it).
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
// Per connection: every commit through this one is synced before it is answered.
db.pragma('synchronous = FULL');
const retired = db.prepare("SELECT 1 FROM log_meta WHERE key = 'retired'");
const head = db.prepare('SELECT coalesce(max(seq), 0) AS head FROM writes');
const insert = db.prepare('INSERT INTO writes (at, op, body, vectors) VALUES (?, ?, ?, ?)');

const append = db.transaction((message) => {
  if (retired.get()) return { retired: true };
  const last = head.get().head;
  if (last !== message.after) return { stale: last };
  const vectors = message.vectors ? Buffer.from(message.vectors.buffer, message.vectors.byteOffset, message.vectors.byteLength) : null;
  return { seq: Number(insert.run(message.at, message.op, message.body, vectors).lastInsertRowid) };
});

parentPort.on('message', (message) => {
  if (message.close) {
    db.close();
    parentPort.close();
    return;
  }
  let answer;
  try {
    answer = append.immediate(message);
  } catch (error) {
    answer = { error: { code: typeof error?.code === 'string' ? error.code : undefined, message: String(error?.message ?? error) } };
  }
  parentPort.postMessage({ id: message.id, ...answer });
});
