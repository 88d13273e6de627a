import { project, type Projection } from '../embed/projection.js';
import { isEmptyFilter, rowMatches, type Hit, type IndexedRow, type RowFilter } from './rows.js';
import type { SearchSpace } from './search-space.js';

/**
 * One fold's space: the index's projection refitted without that fold's rows. A row's vector here is its raw part
 * (the index's own stored vector, [sqrt(b) x, ...]) beside its LDA part in this fold's map, sqrt(1 - b) lda_f(x).
 * Searched exactly: the LDA part is a few dimensions, so the bound "raw part <= b" skips most rows' 512-dim dot
 * product once k good ones are known.
 */
export class FoldSpace implements SearchSpace {
  private readonly rawDim: number;
  private readonly ldaScale: number;

  constructor(
    readonly fold: number,
    private readonly projection: Projection,
    /** Every row's LDA part (unit vectors), row-major rows x projection.dimOut. */
    private readonly lda: Float32Array,
    /** The index's stored vectors, row-major rows x storedDim. */
    private readonly stored: Float32Array,
    private readonly storedDim: number,
    readonly rows: readonly IndexedRow[],
    readonly labels: readonly string[],
  ) {
    this.rawDim = projection.blend > 0 ? projection.dimIn : 0;
    this.ldaScale = Math.sqrt(1 - projection.blend);
  }

  queryVector(embedded: Float32Array): Float32Array {
    return project(this.projection, embedded);
  }

  vector(id: number): Float32Array {
    const m = this.projection.dimOut;
    const out = new Float32Array(this.rawDim + m);
    out.set(this.stored.subarray(id * this.storedDim, id * this.storedDim + this.rawDim));
    for (let j = 0; j < m; j++) out[this.rawDim + j] = this.ldaScale * this.lda[id * m + j];
    return out;
  }

  search(query: Float32Array, k: number, filter: RowFilter = {}): Hit[] {
    if (k <= 0) return [];
    const { rawDim, storedDim, stored, lda } = this;
    const m = this.projection.dimOut;
    let rawNorm = 0;
    for (let i = 0; i < rawDim; i++) rawNorm += query[i] * query[i];
    // Cauchy-Schwarz: a row's raw part scores at most |q_raw| * |stored raw part| = |q_raw| * sqrt(b).
    const rawBound = Math.sqrt(rawNorm * this.projection.blend) + 1e-6;
    const any = isEmptyFilter(filter);
    const ids: number[] = [];
    const scores: number[] = [];
    for (let id = 0; id < this.rows.length; id++) {
      if (!any && !rowMatches(this.rows[id], filter)) continue;
      let ldaScore = 0;
      for (let j = 0; j < m; j++) ldaScore += query[rawDim + j] * lda[id * m + j];
      ldaScore *= this.ldaScale;
      if (ids.length === k && ldaScore + rawBound <= scores[k - 1]) continue;
      let score = ldaScore;
      const offset = id * storedDim;
      for (let i = 0; i < rawDim; i++) score += query[i] * stored[offset + i];
      if (ids.length === k && score <= scores[k - 1]) continue;
      let p = ids.length < k ? ids.length : k - 1;
      if (ids.length < k) {
        ids.push(0);
        scores.push(0);
      }
      // Rows come in id order, so an equal score stays behind the earlier row (ties to the lower id, as elsewhere).
      while (p > 0 && scores[p - 1] < score) {
        ids[p] = ids[p - 1];
        scores[p] = scores[p - 1];
        p--;
      }
      ids[p] = id;
      scores[p] = score;
    }
    return ids.map((id, n) => ({ id, score: scores[n] }));
  }

  exactSearch(query: Float32Array, k: number, filter: RowFilter = {}): Hit[] {
    return this.search(query, k, filter);
  }
}
