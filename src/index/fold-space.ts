import { project, type Projection } from '../embed/projection.js';
import { isEmptyFilter, rowMatches, type Hit, type IndexedRow, type RowFilter } from './rows.js';
import { excludedRows, lessExcluded, type AllowedRows, type FilteredRows } from './allowed-rows.js';
import type { GraphLinks } from './graph-links.js';
import type { RowVectors } from './row-vectors.js';
import type { SearchSpace } from './search-space.js';

/**
 * Beam width of a fold-space search's walk over the index's graph (at least k): the rows it keeps while walking,
 * as HNSW's ef (recall and cost: docs/RETRIEVAL-QUALITY.md). Setting ERC_DEMOS_CROSS_FIT_EF.
 */
export const DEFAULT_CROSS_FIT_EF = 64;
/** Rows of the index's own space a fold-space walk starts from (its graph's best for the query there). */
const WALK_SEEDS = 16;
/** Kept rows beyond k re-scored exactly at the end (their order can differ from the walk's in the last digits). */
const RESCORED_SLACK = 6;

/**
 * The index's own space and graph, as a fold space uses them: its full projection, a search of its HNSW graph
 * (row ids best first), the graph's bottom-layer links (read on first use) and the search settings.
 */
export interface IndexGraph {
  projection: Projection;
  search(query: Float32Array, k: number): number[];
  links(): GraphLinks;
  /** Row ids of one dialogue. */
  dialogueRows(dialogue: string): readonly number[];
  /** Beam width of the walk (DEFAULT_CROSS_FIT_EF), at least k. */
  ef: number;
  /** Rows a search may cover (after its filter) for it to scan them exactly instead. */
  exactMaxRows: number;
  /** The rows a filter's labels, splits and corpora allow (the index's, remembered per filter). */
  allowedRows(filter: RowFilter): AllowedRows;
}

/** The rows a filter allows, as the index remembers them, less those it excludes. */
function rowsAllowed(graph: IndexGraph, filter: RowFilter): FilteredRows {
  return lessExcluded(graph.allowedRows(filter), excludedRows(filter, graph.dialogueRows));
}

/**
 * One fold's space: the index's projection refitted without that fold's rows. A row's vector here is its raw part
 * (the index's own stored vector, [sqrt(b) x, ...]) beside its LDA part in this fold's map, sqrt(1 - b) lda_f(x).
 *
 * search(): the fold's map differs from the full one by the labels of one fold, so the index's HNSW graph, built
 * in the full space, links rows that are near in the fold's space too. A best-first walk over the graph's bottom
 * layer, scoring every row it meets in the fold's space, keeps the `ef` best (HNSW's own search, with the fold's
 * scores), and the best of those are re-scored as exactSearch scores them: no scan; recall@10 against the exact
 * scan in docs/RETRIEVAL-QUALITY.md. The walk starts at the query's own row where the query is a vector this space
 * handed out (a training utterance's, in an export), else at the graph's best rows for the query's vector in the
 * full space (the same raw part, the full map's LDA part). A small space or filter, a pure LDA space (no raw part to
 * carry over to the full space) or a space without a graph is scanned exactly.
 * exactSearch(): the exact scan, where the bound "raw part <= b" skips most rows' 512-dim product once k good ones
 * are known.
 */
export class FoldSpace implements SearchSpace {
  private readonly rawDim: number;
  private readonly ldaScale: number;

  constructor(
    readonly fold: number,
    private readonly projection: Projection,
    /** Every row's LDA part (unit vectors), row-major rows x projection.dimOut. */
    private readonly lda: Float32Array,
    /** The index's stored vectors (their first rawDim floats are a row's raw part here). */
    private readonly stored: RowVectors,
    readonly rows: readonly IndexedRow[],
    readonly labels: readonly string[],
    private readonly graph?: IndexGraph,
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
    const data = this.stored.locate(id);
    out.set(data.subarray(this.stored.offset, this.stored.offset + this.rawDim));
    for (let j = 0; j < m; j++) out[this.rawDim + j] = this.ldaScale * this.lda[id * m + j];
    this.rowOf.set(out, id);
    return out;
  }

  /** The row each vector handed out by vector() is: a search for it starts its walk there (no seed search). */
  private readonly rowOf = new WeakMap<Float32Array, number>();

  /** The rows a filter allows, as the index remembers them (SearchSpace.filteredRows); undefined without a graph. */
  filteredRows(filter: RowFilter): FilteredRows | undefined {
    return this.graph ? rowsAllowed(this.graph, filter) : undefined;
  }

  search(query: Float32Array, k: number, filter: RowFilter = {}): Hit[] {
    if (k <= 0) return [];
    const graph = this.graph;
    if (!graph || this.rawDim === 0 || this.rows.length <= graph.exactMaxRows) return this.exactSearch(query, k, filter);
    let allowed: ((id: number) => boolean) | undefined;
    if (filter.labels || filter.splits || filter.corpora) {
      const rows = rowsAllowed(graph, filter);
      if (rows.count <= graph.exactMaxRows) return this.exactOver(query, k, rows.ids());
      allowed = rows.allows;
    } else {
      // Only exclusions (a dialogue, a row), if any.
      const excluded = excludedRows(filter, graph.dialogueRows);
      if (excluded) allowed = (id) => !excluded.has(id);
    }
    const row = this.rowOf.get(query);
    const seeds = row !== undefined ? [row] : graph.search(this.fullSpaceQuery(query, graph.projection), Math.min(WALK_SEEDS, this.rows.length));
    const kept = this.walk(query, seeds, Math.max(graph.ef, k), allowed, graph.links());
    // The k best of the kept rows, scored as exactSearch scores them (ties to the lower id).
    const order: Hit[] = [];
    for (let x = 0; x < kept.size; x++) order.push({ id: kept.ids[x], score: kept.scores[x] });
    order.sort((a, b) => b.score - a.score || a.id - b.id);
    return this.exactOver(query, k, order.slice(0, k + RESCORED_SLACK).map((h) => h.id));
  }

  /** Every search is an exact scan without a graph to walk, or where the space is small or pure LDA (search()). */
  get exactMaxRows(): number {
    const graph = this.graph;
    return !graph || this.rawDim === 0 || this.rows.length <= graph.exactMaxRows ? Number.POSITIVE_INFINITY : graph.exactMaxRows;
  }

  scoreRows(query: Float32Array, ids: readonly number[]): Hit[] {
    return this.exactOver(query, ids.length, ids);
  }

  exactSearch(query: Float32Array, k: number, filter: RowFilter = {}): Hit[] {
    if (k <= 0) return [];
    const { rawDim, stored, lda } = this;
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
      const data = stored.locate(id);
      const offset = stored.offset;
      for (let i = 0; i < rawDim; i++) score += query[i] * data[offset + i];
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

  /** The given rows scored in this space, the k best (ties to the lower id). */
  private exactOver(query: Float32Array, k: number, ids: readonly number[]): Hit[] {
    const { rawDim, stored, lda, ldaScale } = this;
    const m = this.projection.dimOut;
    const hits = ids.map((id) => {
      let ldaScore = 0;
      for (let j = 0; j < m; j++) ldaScore += query[rawDim + j] * lda[id * m + j];
      let score = ldaScale * ldaScore;
      const data = stored.locate(id);
      const offset = stored.offset;
      for (let i = 0; i < rawDim; i++) score += query[i] * data[offset + i];
      return { id, score };
    });
    return hits.sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k);
  }

  /** Visit marks of the walk: a row is visited in this walk when its mark equals the walk's number. */
  private marks?: Uint32Array;
  private walkNumber = 0;

  /**
   * Best-first search of the graph's bottom layer in this space (hnswlib's searchBaseLayer with this space's
   * scores): from the seeds, expand the best unexpanded row while it can still improve the `ef` best; rows outside
   * `allowed` are walked through but never kept. Returns the kept rows.
   */
  private walk(query: Float32Array, seeds: readonly number[], ef: number, allowed: ((id: number) => boolean) | undefined, links: GraphLinks): MinHeap {
    const { rawDim, stored, lda, ldaScale } = this;
    const m = this.projection.dimOut;
    if (!this.marks || this.walkNumber >= 0xfffffff0) {
      this.marks = new Uint32Array(this.rows.length);
      this.walkNumber = 0;
    }
    const marks = this.marks;
    const walk = ++this.walkNumber;
    let rawNorm = 0;
    for (let i = 0; i < rawDim; i++) rawNorm += query[i] * query[i];
    // Cauchy-Schwarz, as in exactSearch: a row's raw part adds at most this to its LDA part's score.
    const rawBound = Math.sqrt(rawNorm * this.projection.blend) + 1e-6;
    const ldaQuery = query.subarray(rawDim, rawDim + m);
    const kept = new MinHeap(ef);
    const frontier = new MaxHeap();
    const { neighbours, counts, width } = links;
    let at = 0;
    let end = 0;
    let next = 0;
    for (;;) {
      // The next row to meet: a seed, else an unmet neighbour of the best row on the frontier.
      let id: number;
      if (next < seeds.length) {
        id = seeds[next++];
        if (marks[id] === walk) continue;
      } else {
        if (at >= end) {
          if (frontier.size === 0 || (kept.size === ef && frontier.peekScore() < kept.peekScore())) break;
          const row = frontier.pop();
          at = row * width;
          end = at + counts[row];
          continue;
        }
        id = neighbours[at++];
        if (marks[id] === walk) continue;
      }
      marks[id] = walk;
      let ldaScore = 0;
      for (let j = 0, o = id * m; j < m; j++) ldaScore += ldaQuery[j] * lda[o + j];
      let score = ldaScale * ldaScore;
      const full = kept.size === ef;
      if (full && score + rawBound <= kept.peekScore()) continue;
      const data = stored.locate(id);
      score += rawDot(query, data, stored.offset, rawDim);
      if (full && score <= kept.peekScore()) continue;
      frontier.push(score, id);
      if (!allowed || allowed(id)) kept.push(score, id);
    }
    return kept;
  }

  /** A query of this space in the index's own: the same raw part, the full projection's LDA part. */
  private fullSpaceQuery(query: Float32Array, full: Projection): Float32Array {
    const x = new Float32Array(this.rawDim);
    const scale = 1 / Math.sqrt(this.projection.blend);
    for (let i = 0; i < this.rawDim; i++) x[i] = query[i] * scale;
    return project(full, x);
  }
}

/** The `capacity` best (score, id) pairs seen: a min-heap by score, the worst on top (ties: the higher id on top). */
class MinHeap {
  readonly scores: Float64Array;
  readonly ids: Int32Array;
  size = 0;

  constructor(readonly capacity: number) {
    this.scores = new Float64Array(capacity);
    this.ids = new Int32Array(capacity);
  }

  peekScore(): number {
    return this.scores[0];
  }

  /** Worse of two entries: lower score, or on a tie the higher id. */
  private worse(a: number, b: number): boolean {
    return this.scores[a] < this.scores[b] || (this.scores[a] === this.scores[b] && this.ids[a] > this.ids[b]);
  }

  push(score: number, id: number): void {
    if (this.size === this.capacity) {
      if (score < this.scores[0] || (score === this.scores[0] && id > this.ids[0])) return;
      this.scores[0] = score;
      this.ids[0] = id;
      this.down(0);
      return;
    }
    let i = this.size++;
    this.scores[i] = score;
    this.ids[i] = id;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.worse(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < this.size && this.worse(l, w)) w = l;
      if (r < this.size && this.worse(r, w)) w = r;
      if (w === i) return;
      this.swap(i, w);
      i = w;
    }
  }

  private swap(a: number, b: number): void {
    const s = this.scores[a];
    this.scores[a] = this.scores[b];
    this.scores[b] = s;
    const id = this.ids[a];
    this.ids[a] = this.ids[b];
    this.ids[b] = id;
  }
}

/** Rows still to expand: a max-heap by score (growing as needed). */
class MaxHeap {
  private scores = new Float64Array(256);
  private ids = new Int32Array(256);
  size = 0;

  peekScore(): number {
    return this.scores[0];
  }

  push(score: number, id: number): void {
    if (this.size === this.scores.length) {
      const scores = new Float64Array(this.size * 2);
      scores.set(this.scores);
      this.scores = scores;
      const ids = new Int32Array(this.size * 2);
      ids.set(this.ids);
      this.ids = ids;
    }
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.scores[parent] >= score) break;
      this.scores[i] = this.scores[parent];
      this.ids[i] = this.ids[parent];
      i = parent;
    }
    this.scores[i] = score;
    this.ids[i] = id;
  }

  /** Removes the best row and returns its id. */
  pop(): number {
    const top = this.ids[0];
    const score = this.scores[--this.size];
    const id = this.ids[this.size];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const r = l + 1;
      const c = r < this.size && this.scores[r] > this.scores[l] ? r : l;
      if (this.scores[c] <= score) break;
      this.scores[i] = this.scores[c];
      this.ids[i] = this.ids[c];
      i = c;
    }
    this.scores[i] = score;
    this.ids[i] = id;
    return top;
  }
}

/**
 * The dot product of query[0, n) and rows[offset, offset + n), in four running sums (faster than one; the sum's
 * rounding differs from a single running sum's, so its scores are re-computed where they must equal exactSearch's).
 */
export function rawDot(query: Float32Array, rows: Float32Array, offset: number, n: number): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    a += query[i] * rows[offset + i];
    b += query[i + 1] * rows[offset + i + 1];
    c += query[i + 2] * rows[offset + i + 2];
    d += query[i + 3] * rows[offset + i + 3];
  }
  for (; i < n; i++) a += query[i] * rows[offset + i];
  return a + b + c + d;
}
