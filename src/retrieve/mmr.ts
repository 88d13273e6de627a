import type { Hit } from '../index/rows.js';

/** Diversity weight by default: LangChain's MaxMarginalRelevanceExampleSelector and most MMR selectors use 0.5. */
export const DEFAULT_MMR_LAMBDA = 0.5;
/** Candidates fetched per demonstration returned (LangChain: fetch_k 20 for k 4). */
export const MMR_FETCH_PER_ITEM = 5;
export const MMR_MIN_FETCH = 20;

/**
 * Maximal marginal relevance (Carbonell & Goldstein, 1998), greedy: each next pick among the candidates maximises
 * lambda * similarity to the query - (1 - lambda) * its highest similarity to those already picked. lambda 1 is
 * plain top-k; lower values trade relevance for diversity. Pure: `similarity` gives the cosine of two candidates.
 */
export function mmrSelect(candidates: readonly Hit[], k: number, lambda: number, similarity: (a: number, b: number) => number): Hit[] {
  const picked: Hit[] = [];
  const left = [...candidates];
  // Highest similarity of each remaining candidate to the picks so far, updated as picks are made.
  const redundancy = new Map<number, number>(left.map((h) => [h.id, Number.NEGATIVE_INFINITY]));
  while (picked.length < k && left.length > 0) {
    let best = 0;
    let bestValue = Number.NEGATIVE_INFINITY;
    left.forEach((hit, i) => {
      const r = redundancy.get(hit.id)!;
      const value = lambda * hit.score - (1 - lambda) * (r === Number.NEGATIVE_INFINITY ? 0 : r);
      if (value > bestValue) {
        bestValue = value;
        best = i;
      }
    });
    const [chosen] = left.splice(best, 1);
    picked.push(chosen);
    for (const hit of left) redundancy.set(hit.id, Math.max(redundancy.get(hit.id)!, similarity(hit.id, chosen.id)));
  }
  return picked;
}
