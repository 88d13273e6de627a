import { dot } from '../embed/types.js';
import type { Hit, RowFilter } from '../index/rows.js';
import type { SearchSpace } from '../index/search-space.js';
import { DEFAULT_MMR_LAMBDA, mmrSelect } from './mmr.js';
import { dealScanned, mergeHits, planPerLabel, plannedSearches, uniqueTexts, type Demonstration, type SelectionOptions } from './select.js';

type Search = (query: Float32Array, k: number, filter: RowFilter) => Hit[];

/**
 * Runs a selection's searches, then merges them (topk, per-label) or chooses among the candidates (mmr), one step
 * per search: a caller sharing the main thread (retrieveInSteps) runs the steps as separate units of work.
 */
function* selectSteps(index: SearchSpace, query: Float32Array, options: SelectionOptions, search: Search): Generator<void, Demonstration[]> {
  if (options.strategy === 'per-label') return yield* perLabelSteps(index, query, options, search);
  const hitLists: Hit[][] = [];
  for (const { k, filter } of plannedSearches(options, index.labels)) {
    if (hitLists.length > 0) yield;
    hitLists.push(search(query, k, filter));
  }
  if (options.strategy !== 'mmr') return mergeHits(hitLists, index.rows, options);
  const candidates = options.dedup ? uniqueTexts(hitLists[0], index.rows) : hitLists[0];
  const chosen = mmrSelect(candidates, options.k, options.lambda ?? DEFAULT_MMR_LAMBDA, (a, b) => dot(index.vector(a), index.vector(b)));
  return mergeHits([chosen], index.rows);
}

/**
 * Per-label: one pass over the rows buckets them by label (planPerLabel); the labels an exact scan covers are scored
 * by one scan of their rows, then each label with more rows gets its own search, one step each.
 */
function* perLabelSteps(index: SearchSpace, query: Float32Array, options: SelectionOptions, search: Search): Generator<void, Demonstration[]> {
  const plan = planPerLabel(options, index);
  const lists = plan.scanned.length > 0 ? dealScanned(plan, index.scoreRows(query, plan.scanned), index.rows) : new Map<string, Hit[]>();
  for (const { label, k, filter } of plan.searches) {
    yield;
    lists.set(label, search(query, k, filter));
  }
  return mergeHits(plan.labels.map((l) => lists.get(l) ?? []), index.rows, options);
}

function select(index: SearchSpace, query: Float32Array, options: SelectionOptions, search: Search): Demonstration[] {
  const steps = selectSteps(index, query, options, search);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * Demonstrations for one query vector: `topk` gives the k most similar rows passing the filters; `per-label`
 * gives the k most similar rows of each label (InstructERC's "emotional domain" demonstrations), best first;
 * `mmr` gives k rows chosen by maximal marginal relevance among the most similar (relevant, yet unlike each other).
 * The query vector must be in the space searched (`space.queryVector`).
 */
export function retrieve(index: SearchSpace, query: Float32Array, options: SelectionOptions): Demonstration[] {
  return select(index, query, options, (q, k, filter) => index.search(q, k, filter));
}

/**
 * `retrieve` in steps: each `next()` runs one search (per-label: one scan of its labels' rows, then one search per
 * label with more rows than a scan covers), the last one also the merge, and returns the demonstrations when done. A served batch runs each step as one unit of shared main-thread work.
 */
export function retrieveInSteps(index: SearchSpace, query: Float32Array, options: SelectionOptions): Generator<void, Demonstration[]> {
  return selectSteps(index, query, options, (q, k, filter) => index.search(q, k, filter));
}

/** The same selection by brute force: what tests and the recall script compare `retrieve` against. */
export function retrieveExact(index: SearchSpace, query: Float32Array, options: SelectionOptions): Demonstration[] {
  return select(index, query, options, (q, k, filter) => index.exactSearch(q, k, filter));
}
