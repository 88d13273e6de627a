import { rowMatches, type IndexedRow, type RowFilter } from './rows.js';

/** The built rows one filter on labels, splits and corpora allows: their ids in order, and each row's yes or no. */
export interface AllowedRows {
  readonly ids: readonly number[];
  /** 1 where the row of that id is allowed. */
  readonly allows: Uint8Array;
}

/** Default budget of AllowedRowsCache (ERC_DEMOS_FILTER_CACHE_MB). */
export const DEFAULT_FILTER_CACHE_MB = 32;

/**
 * Which built rows a filter on labels, splits and corpora allows, remembered per filter within a byte budget. A
 * label-filtered search (and each label of a per-label selection with more rows than an exact scan covers) passed over
 * every row and built a set of the allowed ids each time: at 1M rows, 150 ms for a top-k under one label
 * (docs/PERFORMANCE.md).
 * Built rows never change (writes are searched beside them, written.ts), so an entry never goes stale; the least
 * recently used leave once the budget is spent, and a filter whose rows alone exceed it is not kept.
 */
export class AllowedRowsCache {
  private readonly entries = new Map<string, AllowedRows>();
  private bytes = 0;

  constructor(private readonly rows: readonly IndexedRow[], private readonly maxBytes: number) {}

  /** The rows `filter`'s labels, splits and corpora allow (its exclusions are the caller's). */
  of(filter: RowFilter): AllowedRows {
    const key = filterKey(filter);
    const known = this.entries.get(key);
    if (known) {
      this.entries.delete(key);
      this.entries.set(key, known);
      return known;
    }
    const made = allowedRows(this.rows, { labels: filter.labels, splits: filter.splits, corpora: filter.corpora });
    const size = entryBytes(made);
    if (size > this.maxBytes) return made;
    this.entries.set(key, made);
    this.bytes += size;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entryBytes(entry);
    }
    return made;
  }
}

function allowedRows(rows: readonly IndexedRow[], filter: RowFilter): AllowedRows {
  const allows = new Uint8Array(rows.length);
  const ids: number[] = [];
  for (const row of rows) {
    if (!rowMatches(row, filter)) continue;
    allows[row.id] = 1;
    ids.push(row.id);
  }
  return { ids, allows };
}

/** A byte a row, 8 an allowed id (a number in a V8 array). */
const entryBytes = (entry: AllowedRows) => entry.allows.length + 8 * entry.ids.length;

/** One key per filter on labels, splits and corpora, whatever the order of their sets; absent and empty differ. */
function filterKey(filter: RowFilter): string {
  const part = (values: ReadonlySet<string> | undefined) => (values ? [...values].sort().join('\u001f') : '\u001e');
  return [filter.labels, filter.splits, filter.corpora].map(part).join('\u001d');
}

/** The rows a whole filter allows: those its labels, splits and corpora allow, less those it excludes. */
export interface FilteredRows {
  readonly count: number;
  /** Their ids in order (a new list where some are excluded). */
  ids(): readonly number[];
  /** Whether a row is one of them (what a filtered walk of the graph asks). */
  allows: (id: number) => boolean;
}

export function lessExcluded({ ids, allows }: AllowedRows, excluded: ReadonlySet<number> | undefined): FilteredRows {
  if (!excluded) return { count: ids.length, ids: () => ids, allows: (id) => allows[id] === 1 };
  let count = ids.length;
  for (const id of excluded) if (allows[id] === 1) count -= 1;
  return { count, ids: () => ids.filter((id) => !excluded.has(id)), allows: (id) => allows[id] === 1 && !excluded.has(id) };
}

/** The rows a filter excludes by id or by dialogue (`dialogueRows`), or undefined when it excludes none. */
export function excludedRows(filter: RowFilter, dialogueRows: (dialogue: string) => readonly number[]): Set<number> | undefined {
  if (!filter.excludeIds?.size && !filter.excludeDialogues?.size) return undefined;
  const excluded = new Set(filter.excludeIds);
  for (const dialogue of filter.excludeDialogues ?? []) for (const id of dialogueRows(dialogue)) excluded.add(id);
  return excluded;
}
