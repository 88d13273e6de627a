import { fstatSync } from 'node:fs';
import { holdFile, readFullyAt } from './held-file.js';

/**
 * Megabytes of an index's searched vectors (FILES.vectors) kept in the heap while serving, at most, in blocks read
 * from the file on first use (the least recently used block out, by a clock): the rest stays on disk, in the
 * operating system's page cache (not this process's RSS). The HNSW graph holds its own copy of every vector for its
 * search; this file is read only for what the graph does not do (exact scans of a narrow filter, rows re-scored,
 * MMR's pairs, cross-fitted walks), so it no longer doubles the serving memory. A file smaller than this is still
 * read block by block, as queries touch it (nothing is read at open). 256 MB holds every vector of a 100k index
 * (208 MB at 520 dims), so a cross-fitted export there walks from memory after its first rows (with 64 MB, 30% of the
 * rows, its cross-fitted half took more than twice as long: docs/PERFORMANCE.md); at 1M it is an eighth of the file,
 * and plain top-k serving reads none of it. OpenOptions.vectorCacheMb.
 */
export const DEFAULT_VECTOR_CACHE_MB = 256;
/**
 * Rows read together from FILES.vectors into the cache: one. The rows a search reads (a graph walk's, a label's) lie
 * far apart in the file, so a larger block would fill the cache with rows nobody asked for; a scan of many rows in
 * id order reads them in runs instead (scan()).
 */
export const VECTOR_BLOCK_ROWS = 1;
/** Rows one positional read of a scan takes at most (scan(): 256 rows of 520 floats, 520 KB). */
export const SCAN_RUN_ROWS = 256;

/**
 * Every row's vector in the searched space, row after row (FILES.vectors), as the searches read them: `locate(id)`
 * returns the array holding row `id` and sets `offset` to where its floats start, so a scoring loop reads them in
 * place, with the same arithmetic whether they are in memory or in a block read from the file.
 */
export interface RowVectors {
  readonly rows: number;
  readonly dim: number;
  /** The array holding row `id`: its floats are [offset, offset + dim) of it (`offset` is overwritten by the next call). */
  locate(id: number): Float32Array;
  /** Set by locate(): where row `id` starts in the array it returned. */
  readonly offset: number;
  /** Row `id`'s vector: a view (never written to, never reused for another row, so it stays valid). */
  row(id: number): Float32Array;
  /**
   * Calls visit(n, data, offset) for each ids[n], with row ids[n]'s floats at [offset, offset + dim) of `data` (valid
   * only during the call): the rows of a long scan read in runs, without passing through (and emptying) the cache.
   */
  scan(ids: readonly number[], visit: (n: number, data: Float32Array, offset: number) => void): void;
}

/** All rows in one array in the heap (an index built here, a test's reference). */
export class MemoryVectors implements RowVectors {
  offset = 0;
  readonly rows: number;

  constructor(
    private readonly data: Float32Array,
    readonly dim: number,
  ) {
    this.rows = data.length / dim;
  }

  locate(id: number): Float32Array {
    this.offset = id * this.dim;
    return this.data;
  }

  row(id: number): Float32Array {
    return this.data.subarray(id * this.dim, (id + 1) * this.dim);
  }

  scan(ids: readonly number[], visit: (n: number, data: Float32Array, offset: number) => void): void {
    for (let n = 0; n < ids.length; n++) visit(n, this.data, ids[n] * this.dim);
  }
}

/**
 * The rows of a vectors file, read by position on first use, `blockRows` rows at a time, at most `cacheBytes` of them
 * kept. The file stays open for the life of this object: a folder swapped by a rebuild or a compaction (renamed,
 * removed) is still read as it was when opened, never as the new one's file.
 */
export class FileVectors implements RowVectors {
  offset = 0;
  private readonly fd: number;
  /** Cached blocks by block number (undefined: not in memory). */
  private readonly blocks: (Float32Array | undefined)[];
  /** The clock's ring of cached block numbers, its hand, and each block's "used since the hand passed" mark. */
  private readonly ring: Int32Array;
  private resident = 0;
  private hand = 0;
  private readonly used: Uint8Array;
  /** Blocks read from the file since open (a measure of the cache's misses). */
  reads = 0;

  constructor(
    path: string,
    readonly rows: number,
    readonly dim: number,
    cacheBytes: number,
    private readonly blockRows = VECTOR_BLOCK_ROWS,
  ) {
    this.fd = holdFile(path, this);
    const expected = rows * dim * 4;
    const size = fstatSync(this.fd).size;
    if (size !== expected) throw new Error(`${path} has ${size} bytes, expected ${expected}`);
    const blockCount = Math.ceil(rows / blockRows);
    this.blocks = new Array<Float32Array | undefined>(blockCount).fill(undefined);
    // At least two blocks, so that the rows of one scoring step can be in memory together.
    const capacity = Math.min(blockCount, Math.max(2, Math.floor(cacheBytes / (blockRows * dim * 4))));
    this.ring = new Int32Array(capacity).fill(-1);
    this.used = new Uint8Array(blockCount);
  }

  locate(id: number): Float32Array {
    const block = (id / this.blockRows) | 0;
    this.offset = (id - block * this.blockRows) * this.dim;
    const cached = this.blocks[block];
    if (cached) {
      this.used[block] = 1;
      return cached;
    }
    return this.load(block);
  }

  row(id: number): Float32Array {
    const data = this.locate(id);
    return data.subarray(this.offset, this.offset + this.dim);
  }

  /** One run's rows, read by scan() (grown as needed, reused: what visit is given is valid only during the call). */
  private runBuffer = new Float32Array(0);

  scan(ids: readonly number[], visit: (n: number, data: Float32Array, offset: number) => void): void {
    const dim = this.dim;
    for (let n = 0; n < ids.length; ) {
      const first = ids[n];
      // The ids ahead in ascending order within SCAN_RUN_ROWS rows of this one: worth one read of the rows from the
      // first to the last when at least 4 and at least a quarter of those rows are wanted (a wide filter, every row),
      // and the first is not cached already.
      let end = n + 1;
      while (end < ids.length && ids[end] > ids[end - 1] && ids[end] < first + SCAN_RUN_ROWS) end++;
      const span = ids[end - 1] - first + 1;
      if (end - n < 4 || 4 * (end - n) < span || this.blocks[(first / this.blockRows) | 0]) {
        const data = this.locate(first);
        visit(n, data, this.offset);
        n += 1;
        continue;
      }
      if (this.runBuffer.length < span * dim) this.runBuffer = new Float32Array(SCAN_RUN_ROWS * dim);
      this.read(this.runBuffer, first, span);
      for (let m = n; m < end; m++) visit(m, this.runBuffer, (ids[m] - first) * dim);
      n = end;
    }
  }

  /** Reads `count` rows from row `first` into the start of `into`. */
  private read(into: Float32Array, first: number, count: number): void {
    readFullyAt(this.fd, new Uint8Array(into.buffer, into.byteOffset, count * this.dim * 4), first * this.dim * 4, 'vectors file');
    this.reads += 1;
  }

  /** Reads a block from the file into a fresh array (an evicted one may still be viewed by a caller's row()). */
  private load(block: number): Float32Array {
    const first = block * this.blockRows;
    if (!(first >= 0 && first < this.rows)) throw new RangeError(`row ${first} is not one of the ${this.rows} rows of the vectors file`);
    const count = Math.min(this.blockRows, this.rows - first);
    const data = new Float32Array(count * this.dim);
    this.read(data, first, count);
    this.admit(block, data);
    return data;
  }

  /** Caches a block, evicting by the clock: the first block the hand finds not used since it last passed. */
  private admit(block: number, data: Float32Array): void {
    const { ring, used, blocks } = this;
    if (this.resident < ring.length) {
      ring[this.resident++] = block;
    } else {
      for (;;) {
        const victim = ring[this.hand];
        if (used[victim]) {
          used[victim] = 0;
          this.hand = (this.hand + 1) % ring.length;
          continue;
        }
        blocks[victim] = undefined;
        ring[this.hand] = block;
        this.hand = (this.hand + 1) % ring.length;
        break;
      }
    }
    blocks[block] = data;
    used[block] = 0;
  }
}
