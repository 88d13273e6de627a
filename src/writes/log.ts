import { closeSync, existsSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { IndexLoadError, WriteBusyError } from '../errors.js';
import { FILES } from '../index/manifest.js';
import type { Write, WrittenDialogue } from '../index/written.js';

/**
 * The write log's file, in the index directory beside the files the build wrote (which it never changes), named for
 * the build it applies to: after a compaction swaps the folder, a process still holding the old log never touches the
 * new one by its path (SQLite deletes a log's -wal file by name when its last connection closes).
 */
export function writeLogFile(identity: string): string {
  return `writes-${identity.slice(0, 16)}.sqlite`;
}

/** How the log files are named, for a glance at a folder. */
export const WRITE_LOG_PATTERN = 'writes-<manifest checksum prefix>.sqlite';

/** One acknowledged write, in the order every replica applies them. */
export interface LoggedWrite {
  seq: number;
  write: Write;
}

interface LogRow {
  seq: number;
  op: string;
  body: string;
  vectors: Buffer | null;
}

/** The build a log's writes apply to: its manifest's checksum line (FILES.manifestSum), which a rebuild changes. */
export function builtIdentity(dir: string): string {
  return readFileSync(join(dir, FILES.manifestSum), 'utf8');
}

function encodeVectors(vectors: readonly Float32Array[]): Buffer {
  return Buffer.concat(vectors.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)));
}

function decodeVectors(bytes: Buffer, dim: number): Float32Array[] {
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const vectors: Float32Array[] = [];
  for (let at = 0; at < all.length; at += dim) vectors.push(all.subarray(at, at + dim));
  return vectors;
}

/** A write as the log's row stores it. */
export interface EncodedWrite {
  op: Write['op'];
  body: string;
  vectors: Buffer | null;
}

export function encodeWrite(write: Write): EncodedWrite {
  if (write.op === 'add') return { op: 'add', body: JSON.stringify({ dialogues: write.dialogues }), vectors: encodeVectors(write.vectors) };
  const { op, ...rest } = write;
  return { op, body: JSON.stringify(rest), vectors: null };
}

function decode(row: LogRow, dim: number): Write {
  const body = JSON.parse(row.body) as Record<string, unknown>;
  if (row.op === 'add') return { op: 'add', dialogues: body.dialogues as WrittenDialogue[], vectors: decodeVectors(row.vectors!, dim) };
  if (row.op === 'relabel') return { op: 'relabel', dialogue: body.dialogue as string, turn: body.turn as number, labels: body.labels as string[], sourceLabels: body.sourceLabels as string[] };
  if (row.op === 'remove') return { op: 'remove', dialogue: body.dialogue as string };
  throw new Error(`write ${row.seq} has an unknown op "${row.op}"`);
}

/**
 * The durable, ordered record of every write to one index: a SQLite database in WAL mode with full sync, so a write is
 * on disk when its commit is answered (log-committer.ts commits in a thread of its own; a power cut or `kill -9` after
 * the answer cannot lose it, one before it leaves no trace), and writers from any number of processes on the folder
 * are serialised by SQLite's own lock, each committing only on top of the writes it was checked against. Every process holding the index replays it in `seq` order (follow.ts), so replicas on one
 * folder converge without a protocol of our own.
 */
export class WriteLog {
  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
    private readonly dim: number,
  ) {}

  /**
   * Opens the log of the index in `dir` (built with vectors of `dim`), creating it when `create` (a writer) and it is
   * not there; undefined when there is none and none is to be made. A log made for another build of the folder (its
   * identity differs) is refused: its rows do not number the same.
   */
  static open(dir: string, dim: number, options: { create: boolean; busyTimeoutMs: number }): WriteLog | undefined {
    const identity = builtIdentity(dir);
    const path = join(dir, writeLogFile(identity));
    const existed = existsSync(path);
    if (!existed && !options.create) return undefined;
    const db = new Database(path, { timeout: options.busyTimeoutMs });
    try {
      db.pragma('journal_mode = WAL');
      // FULL: the WAL is synced at every commit, so an acknowledged write survives a power cut, not only a crash.
      db.pragma('synchronous = FULL');
      db.transaction(() => {
        db.exec(`CREATE TABLE IF NOT EXISTS log_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
          CREATE TABLE IF NOT EXISTS writes (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, op TEXT NOT NULL, body TEXT NOT NULL, vectors BLOB)`);
        db.prepare("INSERT OR IGNORE INTO log_meta (key, value) VALUES ('built', ?)").run(identity);
      }).immediate();
      const built = (db.prepare("SELECT value FROM log_meta WHERE key = 'built'").get() as { value: string }).value;
      if (built !== identity) {
        throw new IndexLoadError(dir, `${writeLogFile(identity)} holds writes to another build of this folder (its manifest checksum differs); ` +
          'move it away to open the index as built, or put back the build it was written to');
      }
    } catch (error) {
      db.close();
      throw error;
    }
    if (!existed) syncDirectory(dir);
    return new WriteLog(db, path, dim);
  }

  /** The last write's seq (0: none). */
  head(): number {
    return (this.db.prepare('SELECT coalesce(max(seq), 0) AS head FROM writes').get() as { head: number }).head;
  }

  /** Write `seq` as its row holds it (undefined: none yet). */
  rawAt(seq: number): Pick<EncodedWrite, 'op' | 'body'> | undefined {
    return this.db.prepare('SELECT op, body FROM writes WHERE seq = ?').get(seq) as Pick<EncodedWrite, 'op' | 'body'> | undefined;
  }

  /** The writes after `seq`, in order. */
  since(seq: number): LoggedWrite[] {
    const rows = this.db.prepare('SELECT seq, op, body, vectors FROM writes WHERE seq > ? ORDER BY seq').all(seq) as LogRow[];
    return rows.map((row) => ({ seq: row.seq, write: decode(row, this.dim) }));
  }

  /**
   * Runs `fn` holding the log's write lock (no write commits meanwhile, in any process), then marks the log retired:
   * a writer that was waiting for the lock finds it retired and writes nothing (a compaction hands the folder over).
   */
  retireWith(fn: () => void): void {
    this.db.transaction(() => {
      fn();
      this.db.prepare("INSERT OR REPLACE INTO log_meta (key, value) VALUES ('retired', '1')").run();
    }).immediate();
  }

  /** Appends writes made to another log, in their order (a compaction carries the writes made while it built). */
  copyFrom(writes: readonly LoggedWrite[]): void {
    const insert = this.db.prepare('INSERT INTO writes (at, op, body, vectors) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const { write } of writes) {
        const { op, body, vectors } = encodeWrite(write);
        insert.run(new Date().toISOString(), op, body, vectors);
      }
    }).immediate();
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Writes made to the index in `dir` since its build (0 without a log, or for a folder that is no index): what a
 * rebuild of the folder would lose.
 */
export function writesSinceBuild(dir: string): number {
  let identity: string;
  try {
    identity = builtIdentity(dir);
  } catch {
    return 0;
  }
  const path = join(dir, writeLogFile(identity));
  if (!existsSync(path)) return 0;
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM writes').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Makes a newly created file's directory entry durable (a power cut right after could otherwise lose the file). */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
