import { toInstructercLabel } from '../corpus/labels.js';
import { InputError } from '../errors.js';
import type { FilteredRows } from '../index/allowed-rows.js';
import { rowMatches, type Hit, type IndexedRow, type RowFilter } from '../index/rows.js';
import { MMR_FETCH_PER_ITEM, MMR_MIN_FETCH } from './mmr.js';

export const STRATEGIES = ['topk', 'per-label', 'mmr'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface Demonstration {
  id: number;
  text: string;
  /** The gold label (first label for multi-label rows; null where the row has none). */
  label: string | null;
  labels: string[];
  /** The row's own label in its corpus' names (what `label` maps from in a unified pool; else the same). */
  source_label: string | null;
  source_labels: string[];
  /** Numeric annotations, only where the corpus has them (WASSA). */
  scores?: Record<string, number | null>;
  speaker: string;
  corpus: string;
  split: string;
  dialogue: string;
  turn: number;
  score: number;
}

export interface SelectionOptions {
  k: number;
  strategy: Strategy;
  labels?: readonly string[];
  splits?: readonly string[];
  /** Only rows of these corpora (a pooled index). */
  corpora?: readonly string[];
  excludeDialogues?: readonly string[];
  excludeIds?: readonly number[];
  /** Drop demonstrations whose text repeats a better one ("Okay." said 200 times); over-fetches to keep k. */
  dedup?: boolean;
  /** mmr only: weight of relevance against diversity, in [0, 1] (default DEFAULT_MMR_LAMBDA). */
  lambda?: number;
}

/** How many candidates a deduplicating search fetches per demonstration it must return. */
const DEDUP_OVERFETCH = 4;

/**
 * Maps requested label names onto the index's own, each once in the order first asked (case-insensitive;
 * InstructERC's spelling is accepted too, so "angry" finds MELD's "anger"): a label named twice is searched once.
 * An unknown label is an InputError listing the valid ones.
 */
export function resolveLabels(corpus: string, indexLabels: readonly string[], requested: readonly string[]): string[] {
  const resolved = new Set<string>();
  for (const wanted of requested) {
    const w = wanted.trim().toLowerCase();
    const match = indexLabels.find((l) => l.toLowerCase() === w || toInstructercLabel(corpus, l).toLowerCase() === w);
    if (!match) throw new InputError('labels', `unknown label "${wanted}" (this index has: ${indexLabels.join(', ')})`);
    resolved.add(match);
  }
  return [...resolved];
}

export function toRowFilter(options: SelectionOptions): RowFilter {
  return {
    ...(options.labels?.length ? { labels: new Set(options.labels) } : {}),
    ...(options.splits?.length ? { splits: new Set(options.splits) } : {}),
    ...(options.corpora?.length ? { corpora: new Set(options.corpora) } : {}),
    ...(options.excludeDialogues?.length ? { excludeDialogues: new Set(options.excludeDialogues) } : {}),
    ...(options.excludeIds?.length ? { excludeIds: new Set(options.excludeIds) } : {}),
  };
}

/**
 * The search a selection needs: one top-k, one per label (with the label filter narrowed to that label), or for
 * mmr one search for the candidates it chooses among. Retrieval plans per-label selections with planPerLabel,
 * which gives the same lists without a pass over the rows per label.
 */
export function plannedSearches(options: SelectionOptions, indexLabels: readonly string[]): { k: number; filter: RowFilter }[] {
  const filter = toRowFilter(options);
  const k = options.dedup ? options.k * DEDUP_OVERFETCH : options.k;
  if (options.strategy === 'topk') return [{ k, filter }];
  if (options.strategy === 'mmr') return [{ k: Math.max(MMR_MIN_FETCH, k * MMR_FETCH_PER_ITEM), filter }];
  const labels = options.labels?.length ? options.labels : indexLabels;
  return labels.map((label) => ({ k, filter: { ...filter, labels: new Set([label]) } }));
}

/** What a per-label plan reads of the space searched. */
export interface PerLabelSpace {
  readonly rows: readonly IndexedRow[];
  readonly labels: readonly string[];
  /** Filtered searches over at most this many rows are exact scans (SearchSpace.exactMaxRows). */
  readonly exactMaxRows: number;
  /** The rows a filter allows, where the space remembers them (SearchSpace.filteredRows). */
  filteredRows?(filter: RowFilter): FilteredRows | undefined;
}

/** Per-label plans over at most this many labels count each label's rows from the space's remembered ones. */
const BUCKETED_PLAN_MAX_LABELS = 32;

/**
 * A per-label selection, planned from each label's rows (under the selection's other filters) as the space remembers
 * them, else in one pass over the rows rather than one pass per label, bucketing them all at once. Labels with few rows, which a search would scan exactly
 * anyway, are scored together by one scan over `scanned` (their rows, each once) and each keeps its k best; only
 * labels with more rows than an exact scan covers get a search of their own (at most rows / exactMaxRows of them).
 * The result is what one search per label gives, at a cost that grows with the rows, not with labels x rows (an
 * index of 10,000 labels: 2.4 s a request before, docs/PERFORMANCE.md).
 */
export interface PerLabelPlan {
  /** The labels searched, in the order their lists are merged (as asked, else the index's order). */
  labels: readonly string[];
  /** Rows to fetch per label (k, or more with dedup). */
  k: number;
  /** Rows of the labels scored by one scan, each row once, in id order. */
  scanned: number[];
  /** Of those labels, the set (a row of several labels counts for each of them that is scanned). */
  scannedLabels: ReadonlySet<string>;
  /** The labels with too many rows for a scan: one search each. */
  searches: { label: string; k: number; filter: RowFilter }[];
}

export function planPerLabel(options: SelectionOptions, space: PerLabelSpace): PerLabelPlan {
  const labels = options.labels?.length ? [...new Set(options.labels)] : [...space.labels];
  const { labels: _asked, ...others } = toRowFilter(options);
  const k = options.dedup ? options.k * DEDUP_OVERFETCH : options.k;
  const buckets = labelBuckets(labels, others, space) ?? passOverRows(labels, others, space);
  const scannedLabels = new Set(labels.filter((l) => buckets.count(l) > 0 && buckets.count(l) <= space.exactMaxRows));
  const searches = labels.filter((l) => buckets.count(l) > space.exactMaxRows).map((label) => ({ label, k, filter: { ...others, labels: new Set([label]) } }));
  return { labels, k, scanned: buckets.rowsOf(scannedLabels), scannedLabels, searches };
}

/** Each label's rows under a per-label plan's other filters: how many, and the rows of some of the labels, in id order. */
interface LabelBuckets {
  count(label: string): number;
  rowsOf(labels: ReadonlySet<string>): number[];
}

/** One pass over the rows: each label's count, and the rows with any of the labels. */
function passOverRows(labels: readonly string[], others: RowFilter, space: PerLabelSpace): LabelBuckets {
  const counts = new Map<string, number>(labels.map((l) => [l, 0]));
  const passing: number[] = [];
  for (const row of space.rows) {
    if (!rowMatches(row, others)) continue;
    let wanted = false;
    for (const l of row.labels) {
      const n = counts.get(l);
      if (n === undefined) continue;
      counts.set(l, n + 1);
      wanted = true;
    }
    if (wanted) passing.push(row.id);
  }
  return {
    count: (label) => counts.get(label)!,
    rowsOf: (some) => passing.filter((id) => space.rows[id].labels.some((l) => some.has(l))),
  };
}

/**
 * The labels' rows as the space remembers them per filter (the same ones the searches of the larger labels then
 * use), without a pass over every row: at 1M rows the pass took ~200 ms a request. Undefined where the space keeps
 * none, or for more labels than BUCKETED_PLAN_MAX_LABELS (an index of 10,000 labels: one pass is cheaper than
 * remembering 10,000 row sets).
 */
function labelBuckets(labels: readonly string[], others: RowFilter, space: PerLabelSpace): LabelBuckets | undefined {
  if (!space.filteredRows || labels.length > BUCKETED_PLAN_MAX_LABELS) return undefined;
  const byLabel = new Map<string, FilteredRows>();
  for (const label of labels) {
    const rows = space.filteredRows({ ...others, labels: new Set([label]) });
    if (!rows) return undefined;
    byLabel.set(label, rows);
  }
  return {
    count: (label) => byLabel.get(label)!.count,
    rowsOf: (some) => {
      const lists = [...some].map((l) => byLabel.get(l)!.ids());
      // A row of several labels is in each of their lists: once here, in id order.
      return lists.length === 1 ? [...lists[0]] : [...new Set(lists.flat())].sort((a, b) => a - b);
    },
  };
}

/** The scanned rows, scored best first, dealt to their labels: each scanned label's k best, as its own search gives. */
export function dealScanned(plan: PerLabelPlan, scored: readonly Hit[], rows: readonly IndexedRow[]): Map<string, Hit[]> {
  const lists = new Map<string, Hit[]>([...plan.scannedLabels].map((l) => [l, []]));
  for (const hit of scored) {
    for (const l of rows[hit.id].labels) {
      const list = lists.get(l);
      if (list && list.length < plan.k && list[list.length - 1] !== hit) list.push(hit); // a label named twice: once
    }
  }
  return lists;
}

/** Same text up to case, spacing and punctuation (curly or straight quotes alike). */
export function textKey(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

/** Hits whose text does not repeat a better one's, best first. */
export function uniqueTexts(hits: readonly Hit[], rows: readonly IndexedRow[]): Hit[] {
  const seen = new Set<string>();
  return hits.filter((hit) => {
    const key = textKey(rows[hit.id].text);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Merges search results into demonstrations: best first, each row once (a multi-label row may match twice). With
 * dedup, a row whose text repeats a better one's is dropped, and each search keeps its own k (one list of k for
 * top-k, k per label for per-label).
 */
export function mergeHits(hitLists: readonly Hit[][], rows: readonly IndexedRow[], options?: Pick<SelectionOptions, 'k' | 'dedup'>): Demonstration[] {
  const best = new Map<number, Hit>();
  const seenText = new Set<string>();
  for (const hits of hitLists) {
    let kept = 0;
    for (const hit of hits) {
      if (options?.dedup && kept >= options.k) break;
      if (best.has(hit.id)) continue;
      if (options?.dedup) {
        const key = textKey(rows[hit.id].text);
        if (seenText.has(key)) continue;
        seenText.add(key);
      }
      best.set(hit.id, hit);
      kept += 1;
    }
  }
  return [...best.values()]
    .sort((a, b) => b.score - a.score || a.id - b.id)
    .map((hit) => {
      const row = rows[hit.id];
      return {
        id: row.id, text: row.text, label: row.labels[0] ?? null, labels: row.labels,
        source_label: row.sourceLabels[0] ?? null, source_labels: row.sourceLabels, speaker: row.speaker,
        ...(row.scores ? { scores: row.scores } : {}),
        corpus: row.corpus, split: row.split, dialogue: row.dialogue, turn: row.turn, score: Number(hit.score.toFixed(6)),
      };
    });
}
