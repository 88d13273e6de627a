import type { DemoIndex } from '../index/open.js';
import { mergeHits, plannedSearches, type Demonstration, type SelectionOptions } from './select.js';

/**
 * Demonstrations for one query vector: `topk` gives the k most similar rows passing the filters; `per-label`
 * gives the k most similar rows of each label (InstructERC's "emotional domain" demonstrations), best first.
 */
export function retrieve(index: DemoIndex, query: Float32Array, options: SelectionOptions): Demonstration[] {
  const hitLists = plannedSearches(options, index.manifest.labels).map(({ k, filter }) => index.search(query, k, filter));
  return mergeHits(hitLists, index.rows, options);
}

/** The same selection by brute force: what tests and the recall script compare `retrieve` against. */
export function retrieveExact(index: DemoIndex, query: Float32Array, options: SelectionOptions): Demonstration[] {
  const hitLists = plannedSearches(options, index.manifest.labels).map(({ k, filter }) => index.exactSearch(query, k, filter));
  return mergeHits(hitLists, index.rows, options);
}
