import { toInstructercLabel } from '../corpus/labels.js';
import { InputError } from '../errors.js';
import type { Hit, IndexedRow, RowFilter } from '../index/rows.js';
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
 * mmr one search for the candidates it chooses among.
 */
export function plannedSearches(options: SelectionOptions, indexLabels: readonly string[]): { k: number; filter: RowFilter }[] {
  const filter = toRowFilter(options);
  const k = options.dedup ? options.k * DEDUP_OVERFETCH : options.k;
  if (options.strategy === 'topk') return [{ k, filter }];
  if (options.strategy === 'mmr') return [{ k: Math.max(MMR_MIN_FETCH, k * MMR_FETCH_PER_ITEM), filter }];
  const labels = options.labels?.length ? options.labels : indexLabels;
  return labels.map((label) => ({ k, filter: { ...filter, labels: new Set([label]) } }));
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
