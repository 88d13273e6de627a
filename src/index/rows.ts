/** One indexed utterance: the HNSW label is `id`, which is also the SQLite row id. */
export interface IndexedRow {
  id: number;
  corpus: string;
  split: string;
  dialogue: string;
  turn: number;
  speaker: string;
  text: string;
  /** Labels in the index's space (a pool's unified labels). */
  labels: string[];
  /** The row's labels in its own corpus' names (equal to `labels` in a native index). */
  sourceLabels: string[];
  /** Numeric annotations (WASSA), where the corpus has them. */
  scores?: Record<string, number | null>;
  sourceId: string | null;
  /** Removed by a write (written.ts): kept so its id stays its own, never returned again. */
  removed?: boolean;
}

export interface Hit {
  id: number;
  /** Cosine similarity to the query, in [-1, 1]. */
  score: number;
}

/** Which rows a search may return; undefined fields do not filter. */
export interface RowFilter {
  labels?: ReadonlySet<string>;
  splits?: ReadonlySet<string>;
  corpora?: ReadonlySet<string>;
  excludeDialogues?: ReadonlySet<string>;
  excludeIds?: ReadonlySet<number>;
}

export function rowMatches(row: IndexedRow, filter: RowFilter): boolean {
  if (row.removed) return false;
  if (filter.excludeIds?.has(row.id)) return false;
  if (filter.excludeDialogues?.has(row.dialogue)) return false;
  if (filter.splits && !filter.splits.has(row.split)) return false;
  if (filter.corpora && !filter.corpora.has(row.corpus)) return false;
  if (filter.labels && !row.labels.some((l) => filter.labels!.has(l))) return false;
  return true;
}

export function isEmptyFilter(filter: RowFilter): boolean {
  return !filter.labels && !filter.splits && !filter.corpora && !filter.excludeDialogues?.size && !filter.excludeIds?.size;
}
