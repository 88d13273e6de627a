import hnswlib from 'hnswlib-node';
import { ServiceClosedError } from '../errors.js';
import { releaseGraph } from './release-graph.js';

/**
 * Added rows past which a space puts them in a graph of their own: below it, the exact scan (about 0.7 ms per 1,000
 * rows a query on a 2-core machine) costs less than keeping a graph.
 */
export const WRITTEN_GRAPH_MIN_ROWS = 2000;
/** Main-thread time one slice of insertions may take before it yields to the requests waiting (ms). */
const SLICE_MS = 2;
/** The written graph's parameters: the build's M; a lower efConstruction, as it is filled while serving. */
const M = 16;
const EF_CONSTRUCTION = 100;
/** ef of a search of the written graph: the build's default (recall@10 0.998 on MELD). */
const EF_SEARCH = 128;

/**
 * Added rows (numbered from 0 in the order written) put into an HNSW graph of their own, in slices on the main
 * thread between requests, so that a query's cost stops growing with the rows written between compactions: a query
 * searches the graph for the rows already in it and scans the rest exactly. Rows only ever append (a removed one is
 * filtered out at search time, a relabelled one is matched by its row as it is now), so the graph never changes a
 * node, it only grows.
 */
export class WrittenGraph {
  private readonly hnsw: hnswlib.HierarchicalNSW;
  private capacity = 0;
  /** Added rows 0..indexed-1 are in the graph. */
  private count = 0;
  /** Added rows whose vectors can be asked for (the newest state's). */
  private available = 0;
  private filling = false;
  private closed = false;

  constructor(
    dim: number,
    /** Added row n's vector in the space (unit length, as the exact scan scores it). */
    private readonly vectorOf: (n: number) => Float32Array,
  ) {
    this.hnsw = new hnswlib.HierarchicalNSW('cosine', dim);
  }

  /** Added rows in the graph: rows 0..indexed-1. */
  get indexed(): number {
    return this.count;
  }

  /** Rows 0..added-1 can be asked for now: the graph takes them in slices, from the next turn of the event loop on. */
  grow(added: number): void {
    this.available = Math.max(this.available, added);
    if (this.filling || this.count >= this.available) return;
    this.filling = true;
    setImmediate(() => this.fill());
  }

  /** Stops the filling and frees the graph (its index is closed; release-graph.ts). */
  close(): void {
    this.closed = true;
    releaseGraph(this.hnsw);
  }

  /** The k best added rows in the graph that `accept` lets through, as added-row numbers (best first). */
  search(query: Float32Array, k: number, accept: (n: number) => boolean): number[] {
    if (this.closed) throw new ServiceClosedError('the graph of written rows');
    const n = Math.min(k, this.count);
    if (n <= 0) return [];
    this.hnsw.setEf(Math.max(EF_SEARCH, n));
    return this.hnsw.searchKnn(Array.from(query), n, accept).neighbors;
  }

  private fill(): void {
    if (this.closed) return;
    const until = performance.now() + SLICE_MS;
    while (this.count < this.available && performance.now() < until) {
      if (this.count === this.capacity) {
        this.capacity = Math.max(WRITTEN_GRAPH_MIN_ROWS, 2 * this.capacity);
        if (this.count === 0) this.hnsw.initIndex(this.capacity, M, EF_CONSTRUCTION, 100);
        else this.hnsw.resizeIndex(this.capacity);
      }
      this.hnsw.addPoint(Array.from(this.vectorOf(this.count)), this.count);
      this.count++;
    }
    if (this.count < this.available) setImmediate(() => this.fill());
    else this.filling = false;
  }
}
