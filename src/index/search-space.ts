import type { FilteredRows } from './allowed-rows.js';
import type { Hit, IndexedRow, RowFilter } from './rows.js';

/**
 * A space demonstrations are searched in, over an index's rows: the index's own (every unseen query), or the space
 * of one cross-validation fold, fitted without that fold's labels (a training utterance's own fold).
 */
export interface SearchSpace {
  readonly rows: readonly IndexedRow[];
  /** The index's label set. */
  readonly labels: readonly string[];
  /** An embedder vector in this space. */
  queryVector(embedded: Float32Array): Float32Array;
  /** A stored row's vector in this space. */
  vector(id: number): Float32Array;
  /** Top-k rows by cosine similarity that pass the filter, best first. */
  search(query: Float32Array, k: number, filter?: RowFilter): Hit[];
  /** The same by brute force. */
  exactSearch(query: Float32Array, k: number, filter?: RowFilter): Hit[];
  /** Filtered searches over at most this many rows are exact scans (search() gives what exactSearch() would). */
  readonly exactMaxRows: number;
  /** These rows scored against the query as exactSearch scores them, best first (ties to the lower id). */
  scoreRows(query: Float32Array, ids: readonly number[]): Hit[];
  /**
   * The rows a filter allows, where this space remembers them per filter (a built space: its rows never change);
   * undefined where it does not (a per-label plan then passes over the rows itself).
   */
  filteredRows?(filter: RowFilter): FilteredRows | undefined;
}
