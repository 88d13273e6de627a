import { createHash } from 'node:crypto';
import { dot } from '../embed/types.js';
import { isEmptyFilter, rowMatches, type Hit, type IndexedRow, type RowFilter } from './rows.js';
import type { SearchSpace } from './search-space.js';
import { rawDot } from './fold-space.js';
import { WRITTEN_GRAPH_MIN_ROWS, WrittenGraph } from './written-graph.js';

/**
 * What was written to an index since it was built (added dialogues, relabelled turns, removed dialogues), as one
 * immutable snapshot: each write makes a new one (applyWrite), so a search that started on the old snapshot finishes
 * on it, and a row id once handed out always names the same utterance (removed rows stay, tombstoned).
 *
 * Built rows are never changed in place: a search of the built space skips every built row a write touched
 * (`changed`), and those rows' current versions are scanned exactly beside it with the rows added (`scanned`). So
 * the built graph, vectors and cross-fitted spaces stay as the build wrote them, and a relabelled row answers with
 * its new label at once, in every filter.
 */
export interface WrittenState {
  /** Rows the build wrote (ids 0..builtCount-1); added rows follow in the order they were written. */
  readonly builtCount: number;
  /** Every row by id as it is now: relabelled rows with their new labels, removed ones tombstoned (`removed`). */
  readonly rows: readonly IndexedRow[];
  /** Built rows relabelled or removed: searches of the built space skip them. */
  readonly changed: ReadonlySet<number>;
  /** Rows searched exactly beside the built space: the added ones and the relabelled built ones, not removed. */
  readonly scanned: readonly number[];
  /** The embedder vector of each added row (id - builtCount). */
  readonly added: readonly Float32Array[];
  /** Rows of each dialogue as it is now, in turn order (removed dialogues have none). */
  readonly byDialogue: ReadonlyMap<string, readonly number[]>;
  /** Each added dialogue's cross-validation fold (by its id: foldOfWritten). */
  readonly folds: ReadonlyMap<string, number>;
  /** Utterances added, relabelled and removed since the build (a row added then removed counts in both). */
  readonly counts: { readonly added: number; readonly relabelled: number; readonly removed: number };
}

/** One turn of a dialogue written to an index, its labels already in the index's label space. */
export interface WrittenTurn {
  speaker: string;
  text: string;
  labels: string[];
  /** The turn's labels in its corpus' own names (equal to `labels` in a native index). */
  sourceLabels: string[];
  scores?: Record<string, number | null>;
  sourceId?: string | null;
}

/** A dialogue written to an index: its id as the index names dialogues, and its turns in order. */
export interface WrittenDialogue {
  id: string;
  corpus: string;
  split: string;
  turns: WrittenTurn[];
}

/** One write, as the write log stores and replays it. */
export type Write =
  | { op: 'add'; dialogues: WrittenDialogue[]; vectors: Float32Array[] }
  | { op: 'relabel'; dialogue: string; turn: number; labels: string[]; sourceLabels: string[] }
  | { op: 'remove'; dialogue: string };

/** What a write needs of the index it is applied to. */
export interface WriteTarget {
  readonly builtRows: readonly IndexedRow[];
  builtDialogueRows(dialogue: string): readonly number[];
  /** Folds of the cross-validation, or undefined where the index is not cross-fitted. */
  readonly folds: number | undefined;
  readonly foldSeed: number;
  readonly dim: number;
}

/** A write that cannot apply to the index as it is now: `kind` says why, `param` which field. */
export class WriteRefused extends Error {
  constructor(
    readonly kind: 'not-found' | 'exists' | 'invalid',
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The fold of a dialogue written after the build: from its id and the index's fold seed alone, so every replica
 * replaying the log deals it the same fold, and its training-split prompts come from a space fitted without it.
 */
export function foldOfWritten(dialogue: string, folds: number, seed: number): number {
  return createHash('sha256').update(`${seed}\u0000${dialogue}`).digest().readUInt32BE(0) % folds;
}

export function emptyWrittenState(target: WriteTarget): WrittenState {
  return {
    builtCount: target.builtRows.length, rows: target.builtRows, changed: new Set(), scanned: [], added: [],
    byDialogue: new Map(), folds: new Map(), counts: { added: 0, relabelled: 0, removed: 0 },
  };
}

/** The rows of a dialogue as the index holds it now (written state first, then the build's). */
export function dialogueRowsNow(state: WrittenState, target: WriteTarget, dialogue: string): readonly number[] {
  return state.byDialogue.get(dialogue) ?? target.builtDialogueRows(dialogue);
}

/**
 * Checks a write against the index as it is now, without applying it: an added dialogue id already held (or twice in
 * one batch), an unknown dialogue or turn. Throws WriteRefused naming the field.
 */
export function checkWrite(state: WrittenState, target: WriteTarget, write: Write): void {
  if (write.op === 'add') {
    const seen = new Set<string>();
    write.dialogues.forEach((d, i) => {
      if (seen.has(d.id)) throw new WriteRefused('exists', `dialogues.${i}.id`, `dialogue "${d.id}" is given twice in this batch`);
      seen.add(d.id);
      if (dialogueRowsNow(state, target, d.id).length > 0) {
        throw new WriteRefused('exists', `dialogues.${i}.id`, `the index already holds a dialogue "${d.id}" (remove it first to replace it)`);
      }
    });
    const turns = write.dialogues.reduce((n, d) => n + d.turns.length, 0);
    if (write.vectors.length !== turns) throw new WriteRefused('invalid', 'vectors', `${write.vectors.length} vectors for ${turns} turns`);
    const badDim = write.vectors.findIndex((v) => v.length !== target.dim);
    if (badDim >= 0) throw new WriteRefused('invalid', 'vectors', `vector ${badDim} has ${write.vectors[badDim].length} dimensions, the index ${target.dim}`);
    return;
  }
  const rows = dialogueRowsNow(state, target, write.dialogue);
  if (rows.length === 0) throw new WriteRefused('not-found', 'dialogue', `the index holds no dialogue "${write.dialogue}"`);
  if (write.op === 'relabel' && !rows.some((id) => state.rows[id].turn === write.turn)) {
    const turns = rows.map((id) => state.rows[id].turn);
    throw new WriteRefused('not-found', 'turn', `dialogue "${write.dialogue}" has no turn ${write.turn} (its turns: ${Math.min(...turns)}..${Math.max(...turns)})`);
  }
}

/** A state being made by applyWrites: a copy of the last one, changed write by write. */
interface Draft {
  builtCount: number;
  rows: IndexedRow[];
  changed: Set<number>;
  scanned: number[];
  added: Float32Array[];
  byDialogue: Map<string, readonly number[]>;
  folds: Map<string, number>;
  counts: { added: number; relabelled: number; removed: number };
}

/**
 * The state after these writes, in order (each checked against the state the ones before it made: a refused write
 * throws and the state given is unchanged). One copy for the whole batch, so replaying a long log costs what its
 * writes do, not a copy of the index per write.
 */
export function applyWrites(state: WrittenState, target: WriteTarget, writes: readonly Write[]): WrittenState {
  if (writes.length === 0) return state;
  const draft: Draft = {
    builtCount: state.builtCount, rows: [...state.rows], changed: new Set(state.changed), scanned: [], added: [...state.added],
    byDialogue: new Map(state.byDialogue), folds: new Map(state.folds), counts: { ...state.counts },
  };
  for (const write of writes) {
    checkWrite(draft, target, write);
    applyOne(draft, target, write);
  }
  for (const id of draft.changed) if (!draft.rows[id].removed) draft.scanned.push(id);
  for (let id = draft.builtCount; id < draft.rows.length; id++) if (!draft.rows[id].removed) draft.scanned.push(id);
  draft.scanned.sort((a, b) => a - b);
  return draft;
}

function applyOne(draft: Draft, target: WriteTarget, write: Write): void {
  const { rows, counts } = draft;
  if (write.op === 'add') {
    let v = 0;
    for (const d of write.dialogues) {
      const ids: number[] = [];
      for (const [turn, t] of d.turns.entries()) {
        const id = rows.length;
        rows.push({
          id, corpus: d.corpus, split: d.split, dialogue: d.id, turn, speaker: t.speaker, text: t.text, labels: t.labels, sourceLabels: t.sourceLabels,
          sourceId: t.sourceId ?? null, ...(t.scores ? { scores: t.scores } : {}),
        });
        draft.added.push(write.vectors[v++]);
        ids.push(id);
      }
      draft.byDialogue.set(d.id, ids);
      if (target.folds !== undefined) draft.folds.set(d.id, foldOfWritten(d.id, target.folds, target.foldSeed));
      counts.added += ids.length;
    }
    return;
  }
  const ids = dialogueRowsNow(draft, target, write.dialogue);
  if (write.op === 'relabel') {
    const id = ids.find((r) => rows[r].turn === write.turn)!;
    rows[id] = { ...rows[id], labels: write.labels, sourceLabels: write.sourceLabels };
    if (id < draft.builtCount) draft.changed.add(id);
    counts.relabelled += 1;
    return;
  }
  for (const id of ids) {
    rows[id] = { ...rows[id], removed: true };
    if (id < draft.builtCount) draft.changed.add(id);
  }
  draft.byDialogue.set(write.dialogue, []);
  counts.removed += ids.length;
}

/**
 * Vectors of added rows in one space, computed on first use and kept (a row's vector never changes), row after row
 * in one growing buffer, so a scan of thousands of written rows is one tight loop over contiguous floats; past
 * WRITTEN_GRAPH_MIN_ROWS, also put into a graph of their own (written-graph.ts) that queries search instead.
 */
export class AddedVectors {
  private data = new Float32Array(0);
  private dim = 0;
  /** Added rows whose vectors are in `data` (the first `count`, in id order). */
  private count = 0;
  /** The newest state seen: the graph's filling asks it for vectors. */
  private latest: WrittenState | undefined;
  private graph: WrittenGraph | undefined;
  constructor(private readonly space: Pick<SearchSpace, 'queryVector'>) {}

  /** The vector of added row `id` (a view into the buffer). */
  get(state: WrittenState, id: number): Float32Array {
    const n = id - state.builtCount;
    this.fill(state, n + 1);
    return this.data.subarray(n * this.dim, (n + 1) * this.dim);
  }

  /** The query's dot product with added row `id`, from the buffer (rawDot's four running sums). */
  score(state: WrittenState, query: Float32Array, id: number): number {
    const n = id - state.builtCount;
    this.fill(state, n + 1);
    return rawDot(query, this.data, n * this.dim, this.dim);
  }

  /**
   * The graph of this space's added rows, once there are enough of them (undefined before); each call lets it take
   * the rows of `state` it does not hold yet, in slices between requests.
   */
  graphOf(state: WrittenState): WrittenGraph | undefined {
    if (state.added.length < WRITTEN_GRAPH_MIN_ROWS) return undefined;
    if (!this.latest || state.added.length > this.latest.added.length) this.latest = state;
    if (!this.graph) {
      const first = this.get(state, state.builtCount);
      this.graph = new WrittenGraph(first.length, (n) => this.get(this.latest!, this.latest!.builtCount + n));
    }
    this.graph.grow(state.added.length);
    return this.graph;
  }

  /** Frees the graph (its index is closed). */
  close(): void {
    this.graph?.close();
  }

  /** Computes the vectors of the first `rows` added rows not computed yet (capacity doubling as rows are added). */
  private fill(state: WrittenState, rows: number): void {
    for (; this.count < rows; this.count++) {
      const vector = this.space.queryVector(state.added[this.count]);
      if (this.dim === 0) this.dim = vector.length;
      if ((this.count + 1) * this.dim > this.data.length) {
        const grown = new Float32Array(Math.max(64, state.added.length, 2 * this.count) * this.dim);
        grown.set(this.data);
        this.data = grown;
      }
      this.data.set(vector, this.count * this.dim);
    }
  }
}

/** The first place in ascending `ids` holding an id >= `id` (ids.length if none). */
function firstAtLeast(ids: readonly number[], id: number): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The k best of several best-first hit lists (ties to the lower id, as every search orders them). */
function mergeBest(lists: readonly Hit[][], k: number): Hit[] {
  return lists.flat().sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k);
}

/**
 * A space searched with what was written: the built space (skipping the rows writes changed) and an exact scan of
 * the rows written since, merged. Exact over the written rows, so a write never waits for a graph insertion and its
 * rows are found at once; `erc-demos compact` folds them into a fresh build when they grow.
 */
export class LiveSpace implements SearchSpace {
  constructor(
    private readonly built: SearchSpace,
    private readonly state: WrittenState,
    private readonly addedVectors: AddedVectors,
  ) {}

  get rows(): readonly IndexedRow[] {
    return this.state.rows;
  }

  get labels(): readonly string[] {
    return this.built.labels;
  }

  get exactMaxRows(): number {
    return this.built.exactMaxRows;
  }

  queryVector(embedded: Float32Array): Float32Array {
    return this.built.queryVector(embedded);
  }

  vector(id: number): Float32Array {
    return id < this.state.builtCount ? this.built.vector(id) : this.addedVectors.get(this.state, id);
  }

  search(query: Float32Array, k: number, filter: RowFilter = {}): Hit[] {
    if (k <= 0) return [];
    return mergeBest([this.built.search(query, k, this.builtFilter(filter)), this.scanWritten(query, k, filter)], k);
  }

  exactSearch(query: Float32Array, k: number, filter: RowFilter = {}): Hit[] {
    if (k <= 0) return [];
    return mergeBest([this.built.exactSearch(query, k, this.builtFilter(filter)), this.scanWritten(query, k, filter, true)], k);
  }

  scoreRows(query: Float32Array, ids: readonly number[]): Hit[] {
    const { changed, builtCount } = this.state;
    const built = ids.filter((id) => id < builtCount && !changed.has(id));
    const written = ids.filter((id) => id >= builtCount || changed.has(id));
    return mergeBest([this.built.scoreRows(query, built), written.map((id) => ({ id, score: dot(query, this.vector(id)) }))], ids.length);
  }

  /** The filter for the built space: the caller's, and every built row a write changed. */
  private builtFilter(filter: RowFilter): RowFilter {
    if (this.state.changed.size === 0) return filter;
    if (!filter.excludeIds?.size) return { ...filter, excludeIds: this.state.changed };
    return { ...filter, excludeIds: new Set([...filter.excludeIds, ...this.state.changed]) };
  }

  /**
   * The k best written rows (as they are now) passing the filter: those in the space's written graph by searching it
   * (unless `exact`, or the filter leaves few of them), the rest (the newest added rows, relabelled built rows) by an
   * exact scan; each scored as the exact scan scores it.
   */
  private scanWritten(query: Float32Array, k: number, filter: RowFilter, exact = false): Hit[] {
    const { rows, builtCount } = this.state;
    const any = isEmptyFilter(filter);
    const graph = exact ? undefined : this.addedVectors.graphOf(this.state);
    let inGraph = graph ? builtCount + graph.indexed : builtCount;
    const accept = (id: number) => id < rows.length && !rows[id].removed && (any || rowMatches(rows[id], filter));
    if (graph && !any && !filter.excludeIds && !filter.excludeDialogues && this.fewMatch(builtCount, inGraph, accept)) inGraph = builtCount;
    // `scanned` is in id order: the relabelled built rows first, then the added ones; those in the graph are skipped.
    const { scanned } = this.state;
    const hits = this.scanExactly(query, k, filter, [[0, firstAtLeast(scanned, builtCount)], [firstAtLeast(scanned, inGraph), scanned.length]]);
    if (!graph || inGraph === builtCount) return hits;
    const found = graph.search(query, k, (n) => accept(builtCount + n)).map((n) => {
      const id = builtCount + n;
      return { id, score: this.addedVectors.score(this.state, query, id) };
    });
    return mergeBest([hits, found], k);
  }

  /** Whether a filter lets through so few of the rows from..to-1 that an exact scan of them beats a filtered graph walk. */
  private fewMatch(from: number, to: number, accept: (id: number) => boolean): boolean {
    const limit = Math.max(this.built.exactMaxRows, (to - from) / 20);
    let matched = 0;
    for (let id = from; id < to; id++) if (accept(id) && ++matched > limit) return false;
    return true;
  }

  /**
   * The k best of the written rows at these [from, to) places of `scanned` that pass the filter, by an exact scan
   * keeping the k best as it goes.
   */
  private scanExactly(query: Float32Array, k: number, filter: RowFilter, ranges: readonly (readonly [number, number])[]): Hit[] {
    const any = isEmptyFilter(filter);
    const best: Hit[] = [];
    for (const [from, to] of ranges) for (let at = from; at < to; at++) this.keepBest(best, k, query, this.state.scanned[at], any, filter);
    return best;
  }

  /** Scores written row `id` if it passes the filter and keeps it in `best` (the k best so far, best first). */
  private keepBest(best: Hit[], k: number, query: Float32Array, id: number, any: boolean, filter: RowFilter): void {
    if (!any && !rowMatches(this.state.rows[id], filter)) return;
    const score = id < this.state.builtCount ? dot(query, this.built.vector(id)) : this.addedVectors.score(this.state, query, id);
    if (best.length === k && score <= best[k - 1].score) return;
    // Ids come in order, so an equal score stays behind the earlier row (ties to the lower id, as elsewhere).
    let at = best.length < k ? best.length : k - 1;
    if (best.length < k) best.push({ id, score });
    while (at > 0 && best[at - 1].score < score) {
      best[at] = best[at - 1];
      at--;
    }
    best[at] = { id, score };
  }
}
