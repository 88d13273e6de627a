import { expect } from 'vitest';
import type { DemoIndex } from '../../src/index/open.js';
import { retrieve, retrieveExact } from '../../src/retrieve/retrieve.js';

/**
 * recall@k of the index's search against its exact scan over raw query vectors, in topk, per-label and a label
 * filter; on the way, every answered row is checked as it is now (never a removed one, its labels current, in the
 * filter's labels).
 */
export function recallWithWrites(index: DemoIndex, raws: readonly Float32Array[], filterLabels: string[]): number {
  let found = 0;
  let wanted = 0;
  for (const raw of raws) {
    for (const options of [{ k: 10, strategy: 'topk' as const }, { k: 3, strategy: 'per-label' as const }, { k: 10, strategy: 'topk' as const, labels: filterLabels }]) {
      const q = index.queryVector(raw);
      const got = retrieve(index, q, options);
      const exact = retrieveExact(index, q, options);
      for (const d of got) {
        const row = index.rows[d.id];
        expect(row.removed, `row ${d.id}`).toBeFalsy();
        expect(d.labels).toEqual(row.labels);
        if (options.labels) expect(options.labels).toContain(d.label);
      }
      const ids = new Set(got.map((d) => d.id));
      found += exact.filter((d) => ids.has(d.id)).length;
      wanted += exact.length;
    }
  }
  return found / wanted;
}
