import { classSums, combineStatistics, fitLdaFromStatistics, type LdaStatistics } from '../embed/lda.js';
import type { Projection } from '../embed/projection.js';
import { classificationReport, weightedVote } from '../metrics.js';
import { seeded } from '../random.js';
import type { BlendGroup, BlendTops, Gram } from './gram.js';

/** A space demonstrations can be searched in: the raw embedding, or LDA (with shrinkage) blended with it. */
export type SpaceCandidate = { projection: 'none' } | { projection: 'lda'; shrinkage: number; blend: number };

export const SPACE_SHRINKAGES = [0.1, 0.3] as const;
export const SPACE_BLENDS = [0, 0.2, 0.4, 0.6, 0.8] as const;
export const DEFAULT_SPACE_CANDIDATES: readonly SpaceCandidate[] = [
  { projection: 'none' },
  ...SPACE_SHRINKAGES.flatMap((shrinkage) => SPACE_BLENDS.map((blend) => ({ projection: 'lda' as const, shrinkage, blend }))),
];
/** Neighbours voting in the cross-validated kNN, as `erc-demos eval` scores them (k = 10, InstructERC's protocol). */
export const CV_NEIGHBOURS = 10;
/**
 * Held-out rows each fold scores, at most (a stratified sample of the fold beyond it; 0: every row): the
 * cross-validation then costs folds x this x the training rows, linear in the corpus. MELD's folds (about 2000 rows)
 * and EmoryNLP's (about 1500) are scored whole. Settings: ERC_DEMOS_CV_HELD_OUT_ROWS.
 */
export const DEFAULT_CV_HELD_OUT_ROWS = 2500;
/** Seed of the held-out samples (fold f draws with this + f). */
export const CV_SAMPLE_SEED = 1;
/** Held-out rows per onnxruntime call. */
const QUERY_BLOCK = 256;
/**
 * Training rows per onnxruntime call: each fold's training rows stream through in chunks of this many, so a call
 * works on QUERY_BLOCK x TRAIN_CHUNK scores (2 MB, about 12 such tensors per LDA fit inside the graph: the blends and
 * their top-k), whatever the corpus' size.
 */
const TRAIN_CHUNK = 2048;
/** Rows per onnxruntime call when summing the second moment X^T X or projecting rows. */
const MOMENT_CHUNK = 4096;

export interface CvRow {
  candidate: SpaceCandidate;
  /** kNN weighted-F1 on each held-out fold (null: the candidate could not be fitted without that fold). */
  fold_wf1: (number | null)[];
  mean_wf1: number | null;
  /** Label precision@k on each held-out fold (share of the k neighbours with the row's own label, %). */
  fold_precision: (number | null)[];
}

export interface SpaceChoice {
  method: 'cross-validation';
  folds: number;
  k: number;
  table: CvRow[];
  chosen: SpaceCandidate;
  /** Mean over folds of (best candidate - raw space) W-F1, and the standard deviation of that difference. */
  gain: number;
  gain_sd: number;
  reason: string;
  /** Held-out rows per fold, and how many of them were scored (a stratified sample beyond `cap`; 0: no cap). */
  held_out?: { cap: number; rows: number[]; scored: number[] };
  seconds: number;
}

export function candidateName(c: SpaceCandidate): string {
  return c.projection === 'none' ? 'raw' : `lda s=${c.shrinkage} b=${c.blend}`;
}

/** The k best rows so far of one candidate, best first (kept across chunks of rows). */
export interface TopK {
  ids: Int32Array;
  scores: Float64Array;
  size: number;
}

export function emptyTops(count: number, k: number): TopK[] {
  return Array.from({ length: count }, () => ({ ids: new Int32Array(k), scores: new Float64Array(k).fill(-Infinity), size: 0 }));
}

/**
 * Adds a chunk of rows (ids offset, offset + 1, ...) to the k best of several blends at once, each scoring
 * b * raw[r] + (1 - b) * lda[r] (lda absent: raw alone): one pass over the chunk for all the blends of one LDA fit.
 * Chunks must come in row order: an equal score stays behind the earlier row.
 */
export function addTopKBlends(tops: readonly TopK[], raw: Float32Array, lda: Float32Array | undefined, blends: readonly number[], offset = 0): void {
  // One candidate at a time over the chunk (a tight loop with its threshold in a register), not all per row.
  for (let c = 0; c < blends.length; c++) {
    const top = tops[c];
    const k = top.ids.length;
    const b = lda ? blends[c] : 1;
    const a = 1 - b;
    let threshold = top.size === k ? top.scores[k - 1] : -Infinity;
    for (let r = 0; r < raw.length; r++) {
      const s = lda ? b * raw[r] + a * lda[r] : raw[r];
      if (s <= threshold) continue;
      insertTop(top, s, offset + r);
      if (top.size === k) threshold = top.scores[k - 1];
    }
  }
}

/**
 * Puts a row that beats the k-th (or fills a free place) into a top-k kept best first; an equal score stays behind
 * the rows already there, as a single pass over the rows in order would keep it.
 */
function insertTop(top: TopK, s: number, id: number): void {
  const k = top.ids.length;
  let p = top.size < k ? top.size++ : k - 1;
  while (p > 0 && top.scores[p - 1] < s) {
    top.scores[p] = top.scores[p - 1];
    top.ids[p] = top.ids[p - 1];
    p--;
  }
  top.scores[p] = s;
  top.ids[p] = id;
}

/**
 * The k best rows for several blends at once, each scoring b * raw[r] + (1 - b) * lda[r] (lda absent: raw alone):
 * one pass over the rows for all the blends of one LDA fit, each blend keeping its own k best, best first.
 */
export function topKBlends(raw: Float32Array, lda: Float32Array | undefined, blends: readonly number[], k: number): TopK[] {
  const tops = emptyTops(blends.length, k);
  addTopKBlends(tops, raw, lda, blends);
  return tops;
}

/**
 * Gram.blendTopK from plain dot products: the raw and LDA products by `dots`, the selection in JavaScript (scores in
 * double precision, ties to the lower row): for a Gram without a native one.
 */
export async function blendTopKWithDots(gram: Pick<Gram, 'dots'>, queries: Float32Array, rows: Float32Array, dim: number, groups: readonly BlendGroup[], k: number): Promise<BlendTops[]> {
  const m = queries.length / dim;
  const n = rows.length / dim;
  const kk = Math.min(k, n);
  const raw = await gram.dots(queries, rows, dim);
  const out: BlendTops[] = [];
  for (const group of groups) {
    const lda = group.lda ? await gram.dots(group.lda.queries, group.lda.rows, group.lda.dim) : undefined;
    const width = group.blends.length;
    const tops: BlendTops = { k: kk, scores: new Float32Array(m * width * kk), ids: new Int32Array(m * width * kk) };
    for (let q = 0; q < m; q++) {
      const best = emptyTops(width, kk);
      addTopKBlends(best, raw.subarray(q * n, (q + 1) * n), lda?.subarray(q * n, (q + 1) * n), group.blends);
      best.forEach((top, c) => {
        tops.scores.set(top.scores, (q * width + c) * kk);
        tops.ids.set(top.ids, (q * width + c) * kk);
      });
    }
    out.push(tops);
  }
  return out;
}

/**
 * Adds a block's best rows (ids offset + ..., best first, all after the rows already in `top`) to a running top-k:
 * an equal score stays behind the rows already there, as a single pass over all rows would keep it.
 */
function mergeTop(top: TopK, scores: Float32Array, ids: Int32Array, at: number, count: number, offset: number): void {
  const k = top.ids.length;
  for (let x = 0; x < count; x++) {
    const s = scores[at + x];
    if (top.size === k && s <= top.scores[k - 1]) return; // the block's rest is no better
    insertTop(top, s, offset + ids[at + x]);
  }
}

/** Row-major concatenation of vectors. */
export function flat(vectors: readonly Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(vectors.length * dim);
  vectors.forEach((v, n) => out.set(v, n * dim));
  return out;
}

/** The transpose of a row-major rows x dim matrix, written into `out`. */
function transpose(m: Float32Array, rows: number, dim: number, out = new Float32Array(m.length)): Float32Array {
  for (let r = 0; r < rows; r++) for (let i = 0; i < dim; i++) out[i * rows + r] = m[r * dim + i];
  return out;
}

/**
 * LDA statistics of a set of vectors, the second moment X^T X as matrix products over chunks of rows (memory: one
 * chunk, whatever the number of rows), summed in double precision.
 */
export async function statisticsWith(gram: Gram, vectors: readonly Float32Array[], labels: readonly string[], dim: number): Promise<LdaStatistics> {
  const moment = new Float64Array(dim * dim);
  for (let start = 0; start < vectors.length; start += MOMENT_CHUNK) {
    const chunk = vectors.slice(start, start + MOMENT_CHUNK);
    const xt = transpose(flat(chunk, dim), chunk.length, dim);
    const part = await gram.dots(xt, xt, chunk.length);
    for (let i = 0; i < part.length; i++) moment[i] += part[i];
  }
  return { dim, count: vectors.length, classes: classSums(vectors, labels, dim), moment };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) return Infinity;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/**
 * LDA statistics of each fold's rows (fold f: the rows with folds[i] === f), to fit "all folds but f" from;
 * `onStep` after each fold (progress).
 */
export async function foldStatistics(gram: Gram, vectors: readonly Float32Array[], labels: readonly string[], folds: readonly number[], foldCount: number, onStep?: () => void): Promise<LdaStatistics[]> {
  const stats: LdaStatistics[] = [];
  for (let f = 0; f < foldCount; f++) {
    const rows = folds.flatMap((g, i) => (g === f ? [i] : []));
    stats.push(await statisticsWith(gram, rows.map((i) => vectors[i]), rows.map((i) => labels[i]), vectors[0].length));
    onStep?.();
  }
  return stats;
}

/**
 * The LDA part (unit vectors, row-major rows x dimOut) of the given rows, as embed/projection.ts computes it with
 * blend 0, by matrix products over chunks of rows: x W - mean W, then L2-normalised.
 */
export async function ldaParts(gram: Gram, p: Projection, vectors: readonly Float32Array[], rows: readonly number[]): Promise<Float32Array> {
  const { dimIn, dimOut } = p;
  const columns = new Float32Array(dimOut * dimIn);
  const centre = new Float64Array(dimOut);
  for (let i = 0; i < dimIn; i++) {
    for (let j = 0; j < dimOut; j++) {
      columns[j * dimIn + i] = p.weights[i * dimOut + j];
      centre[j] += p.mean[i] * p.weights[i * dimOut + j];
    }
  }
  const out = new Float32Array(rows.length * dimOut);
  const chunk = new Float32Array(Math.min(MOMENT_CHUNK, rows.length) * dimIn);
  for (let start = 0; start < rows.length; start += MOMENT_CHUNK) {
    const end = Math.min(start + MOMENT_CHUNK, rows.length);
    for (let n = start; n < end; n++) chunk.set(vectors[rows[n]], (n - start) * dimIn);
    const part = await gram.dots(chunk.subarray(0, (end - start) * dimIn), columns, dimIn);
    for (let n = start; n < end; n++) {
      let norm = 0;
      for (let j = 0; j < dimOut; j++) {
        const y = part[(n - start) * dimOut + j] - centre[j];
        out[n * dimOut + j] = y;
        norm += y * y;
      }
      const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let j = 0; j < dimOut; j++) out[n * dimOut + j] *= scale;
    }
  }
  return out;
}

/**
 * The held-out rows a fold scores: all of them up to `cap` (0: no cap), else a sample of `cap` stratified by
 * `stratum` (label, and corpus in a pooled index): each stratum gets its share of the fold, rounded by largest
 * remainder, drawn by a seeded shuffle; returned in row order.
 */
export function heldOutSample(rows: readonly number[], stratum: (row: number) => string, cap: number, seed: number): number[] {
  if (cap <= 0 || rows.length <= cap) return [...rows];
  const strata = new Map<string, number[]>();
  for (const r of rows) {
    const key = stratum(r);
    const list = strata.get(key);
    if (list) list.push(r);
    else strata.set(key, [r]);
  }
  const keys = [...strata.keys()].sort();
  const exact = keys.map((key) => (cap * strata.get(key)!.length) / rows.length);
  const quota = exact.map(Math.floor);
  let left = cap - quota.reduce((a, b) => a + b, 0);
  for (const s of keys.map((_, i) => i).sort((a, b) => (exact[b] - quota[b]) - (exact[a] - quota[a]) || a - b)) {
    if (left <= 0) break;
    quota[s] += 1;
    left -= 1;
  }
  const random = seeded(seed);
  const out: number[] = [];
  keys.forEach((key, s) => {
    const members = [...strata.get(key)!];
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j], members[i]];
    }
    out.push(...members.slice(0, quota[s]));
  });
  return out.sort((a, b) => a - b);
}

/**
 * The steps crossValidateSpaces reports through `onStep`: per fold, its LDA fits, then each chunk of training rows
 * its held-out sample is scored against.
 */
export function crossValidationSteps(folds: readonly number[], foldCount: number): number {
  const sizes = new Array<number>(foldCount).fill(0);
  for (const f of folds) sizes[f] += 1;
  return sizes.reduce((n, size) => n + 1 + Math.ceil((folds.length - size) / TRAIN_CHUNK), 0);
}

export interface CrossValidationInput {
  /** Raw (unit) embedding of each labelled row. */
  vectors: readonly Float32Array[];
  labels: readonly string[];
  /** Fold of each row, 0..folds-1. */
  folds: readonly number[];
  foldCount: number;
  gram: Gram;
  /** Each row's corpus (a pooled index): the held-out samples are stratified by it too. */
  corpora?: readonly string[];
  candidates?: readonly SpaceCandidate[];
  k?: number;
  /** Held-out rows each fold scores, at most (DEFAULT_CV_HELD_OUT_ROWS; 0: all). */
  heldOutRows?: number;
  /** foldStatistics() of these rows, where the caller has them already (default: computed here). */
  foldStats?: readonly LdaStatistics[];
  /** Called after each step (crossValidationSteps() in all): a fold's LDA fits, a chunk of training rows scored. */
  onStep?: () => void;
  /** Held-out and training rows per product (default QUERY_BLOCK and TRAIN_CHUNK; tests make them small). */
  block?: { queries: number; rows: number };
}

/** Candidates grouped by the LDA fit they share (the raw space on its own, shrinkage undefined): one pass scores a group. */
interface CandidateGroup { shrinkage: number | undefined; members: number[]; blends: number[] }

function candidateGroups(candidates: readonly SpaceCandidate[]): CandidateGroup[] {
  const shrinkageOf = (c: SpaceCandidate) => (c.projection === 'none' ? undefined : c.shrinkage);
  const shrinkages = [...new Set(candidates.flatMap((c) => (c.projection === 'lda' ? [c.shrinkage] : [])))];
  return [undefined, ...shrinkages]
    .map((shrinkage) => {
      const members = candidates.flatMap((c, ci) => (shrinkageOf(c) === shrinkage ? [ci] : []));
      return { shrinkage, members, blends: members.map((ci) => { const c = candidates[ci]; return c.projection === 'lda' ? c.blend : 1; }) };
    })
    .filter((g) => g.members.length > 0);
}

/** One fold's LDA parts (unit vectors, a few dimensions a row) of its training and held-out rows; null: not fittable. */
type FoldLda = { train: Float32Array; held: Float32Array; dim: number } | null;

/** Per shrinkage, the LDA fitted without fold `f` and every training and held-out row's part in it. */
async function fitWithoutFold(gram: Gram, foldStats: readonly LdaStatistics[], f: number, groups: readonly CandidateGroup[], vectors: readonly Float32Array[], train: readonly number[], held: readonly number[]): Promise<Map<number, FoldLda>> {
  const lda = new Map<number, FoldLda>();
  const trainStats = combineStatistics(foldStats.filter((_, g) => g !== f));
  for (const { shrinkage } of groups) {
    if (shrinkage === undefined) continue;
    try {
      const p = fitLdaFromStatistics(trainStats, shrinkage, 0);
      lda.set(shrinkage, { train: await ldaParts(gram, p, vectors, train), held: await ldaParts(gram, p, vectors, held), dim: p.dimOut });
    } catch {
      lda.set(shrinkage, null); // fewer than two labels outside this fold
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return lda;
}

interface NeighbourSearch {
  gram: Gram;
  vectors: readonly Float32Array[];
  dim: number;
  groups: readonly CandidateGroup[];
  k: number;
  block: { queries: number; rows: number };
  onStep?: () => void;
}

/**
 * Each held-out row's k best training rows in every candidate space (tops[row][group][member], training positions):
 * training rows stream in chunks, held-out rows in blocks, so no rows x rows block is ever held.
 */
async function nearestPerCandidate(search: NeighbourSearch, lda: ReadonlyMap<number, FoldLda>, train: readonly number[], held: readonly number[]): Promise<TopK[][][]> {
  const { gram, vectors, dim, groups, k, block } = search;
  const topKOf: NonNullable<Gram['blendTopK']> = gram.blendTopK ? (...args) => gram.blendTopK!(...args) : (...args) => blendTopKWithDots(gram, ...args);
  const tops = held.map(() => groups.map((g) => emptyTops(g.members.length, k)));
  const heldFlat = flat(held.map((i) => vectors[i]), dim);
  const chunkFlat = new Float32Array(Math.min(block.rows, train.length) * dim);
  // The groups that could be fitted without this fold.
  const live = groups.flatMap((g, gi) => (g.shrinkage === undefined || lda.get(g.shrinkage) ? [gi] : []));
  for (let from = 0; from < train.length; from += block.rows) {
    const to = Math.min(from + block.rows, train.length);
    for (let r = from; r < to; r++) chunkFlat.set(vectors[train[r]], (r - from) * dim);
    const chunk = chunkFlat.subarray(0, (to - from) * dim);
    for (let start = 0; start < held.length; start += block.queries) {
      const end = Math.min(start + block.queries, held.length);
      const blockGroups: BlendGroup[] = live.map((gi) => {
        const { shrinkage, blends } = groups[gi];
        const spaces = shrinkage === undefined ? undefined : lda.get(shrinkage)!;
        return spaces
          ? { blends, lda: { queries: spaces.held.subarray(start * spaces.dim, end * spaces.dim), rows: spaces.train.subarray(from * spaces.dim, to * spaces.dim), dim: spaces.dim } }
          : { blends };
      });
      const found = await topKOf(heldFlat.subarray(start * dim, end * dim), chunk, dim, blockGroups, k);
      live.forEach((gi, x) => mergeBlock(tops, gi, groups[gi].blends.length, found[x], start, end, from));
    }
    search.onStep?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return tops;
}

/** Folds one block's top-k (held-out rows start..end, training chunk at `from`) into each row's running best. */
function mergeBlock(tops: TopK[][][], gi: number, width: number, found: BlendTops, start: number, end: number, from: number): void {
  for (let q = start; q < end; q++) {
    for (let c = 0; c < width; c++) mergeTop(tops[q][gi][c], found.scores, found.ids, ((q - start) * width + c) * found.k, found.k, from);
  }
}

/** One fold's kNN W-F1 and label precision@k for every candidate (null where it could not be fitted). */
function scoreFold(candidates: readonly SpaceCandidate[], groups: readonly CandidateGroup[], lda: ReadonlyMap<number, FoldLda>, tops: readonly TopK[][][],
  labels: readonly string[], labelSet: readonly string[], train: readonly number[], held: readonly number[], k: number): { wf1: (number | null)[]; precision: (number | null)[] } {
  const predictions = candidates.map(() => [] as string[]);
  const sameLabel = candidates.map(() => 0);
  held.forEach((row, q) => {
    groups.forEach(({ shrinkage, members }, gi) => {
      if (shrinkage !== undefined && !lda.get(shrinkage)) return;
      tops[q][gi].forEach((top, m) => {
        const neighbours = Array.from({ length: top.size }, (_, x) => ({ label: labels[train[top.ids[x]]], score: top.scores[x] }));
        predictions[members[m]].push(weightedVote(neighbours) ?? '');
        sameLabel[members[m]] += neighbours.filter((x) => x.label === labels[row]).length / k;
      });
    });
  });
  const gold = held.map((i) => labels[i]);
  const fitted = (c: SpaceCandidate) => (c.projection === 'none' || lda.get(c.shrinkage)) && held.length > 0;
  return {
    wf1: candidates.map((c, ci) => (fitted(c) ? classificationReport(gold, predictions[ci], [...labelSet]).weighted_f1 : null)),
    precision: candidates.map((c, ci) => (fitted(c) ? Number(((100 * sameLabel[ci]) / held.length).toFixed(2)) : null)),
  };
}

/** The margin rule: the best candidate by mean W-F1 replaces the raw space only if its mean gain exceeds the folds' spread. */
function decide(table: CvRow[]): Pick<SpaceChoice, 'chosen' | 'gain' | 'gain_sd' | 'reason'> {
  for (const row of table) {
    const scores = row.fold_wf1.filter((x): x is number => x !== null);
    row.mean_wf1 = scores.length === row.fold_wf1.length && scores.length > 0 ? Number(mean(scores).toFixed(2)) : null;
  }
  const raw = table.find((r) => r.candidate.projection === 'none')!;
  const best = table.filter((r) => r.mean_wf1 !== null).reduce((a, b) => (b.mean_wf1! > a.mean_wf1! ? b : a), raw);
  const gains = best.fold_wf1.map((x, f) => x! - raw.fold_wf1[f]!);
  const gain = Number(mean(gains).toFixed(2));
  const sd = Number(sampleSd(gains).toFixed(2));
  const keep = best !== raw && gain > sd;
  const reason = best === raw
    ? 'no candidate beats the raw space in cross-validation'
    : keep
      ? `${candidateName(best.candidate)} gains ${gain} W-F1 over the raw space, more than the folds' spread (sd ${sd})`
      : `best candidate ${candidateName(best.candidate)} gains ${gain} W-F1, within the folds' spread (sd ${sd}): the raw space stays`;
  return { chosen: keep ? best.candidate : raw.candidate, gain, gain_sd: sd, reason };
}

/**
 * Chooses the search space by dialogue-grouped k-fold cross-validation on the training rows alone: for each fold,
 * every candidate space is fitted on the other folds, and each held-out row (or a stratified sample of at most
 * `heldOutRows` of them) is labelled by the similarity-weighted vote of its k nearest rows of all the other folds
 * (kNN weighted-F1, as `erc-demos eval` scores a test split). The best candidate by mean W-F1 is kept only if its
 * gain over the raw space exceeds the folds' spread (the standard deviation of the per-fold gains); otherwise the
 * raw space stays. Blends reuse one LDA fit: the blended cosine is b * cos(raw) + (1 - b) * cos(lda).
 *
 * Cost: folds x (held-out rows scored) x (training rows) products, so with the cap linear in the rows; memory: the
 * products stream in blocks of QUERY_BLOCK x TRAIN_CHUNK, never a rows x rows or rows x fold block.
 */
export async function crossValidateSpaces(input: CrossValidationInput): Promise<SpaceChoice> {
  const started = performance.now();
  const candidates = input.candidates ?? DEFAULT_SPACE_CANDIDATES;
  const k = input.k ?? CV_NEIGHBOURS;
  const cap = input.heldOutRows ?? DEFAULT_CV_HELD_OUT_ROWS;
  const { vectors, labels, folds, foldCount, gram } = input;
  const groups = candidateGroups(candidates);
  const search: NeighbourSearch = {
    gram, vectors, dim: vectors[0].length, groups, k, onStep: input.onStep,
    block: { queries: input.block?.queries ?? QUERY_BLOCK, rows: input.block?.rows ?? TRAIN_CHUNK },
  };
  const members = Array.from({ length: foldCount }, (_, f) => folds.flatMap((g, i) => (g === f ? [i] : [])));
  const foldStats = input.foldStats ?? await foldStatistics(gram, vectors, labels, folds, foldCount);
  const labelSet = [...new Set(labels)].sort();
  const stratum = (i: number) => `${input.corpora?.[i] ?? ''}\u0000${labels[i]}`;
  const table: CvRow[] = candidates.map((candidate) => ({ candidate, fold_wf1: [], mean_wf1: null, fold_precision: [] }));
  const scored: number[] = [];
  for (let f = 0; f < foldCount; f++) {
    const held = heldOutSample(members[f], stratum, cap, CV_SAMPLE_SEED + f);
    const train = folds.flatMap((g, i) => (g !== f ? [i] : []));
    const lda = await fitWithoutFold(gram, foldStats, f, groups, vectors, train, held);
    input.onStep?.();
    const tops = await nearestPerCandidate(search, lda, train, held);
    const { wf1, precision } = scoreFold(candidates, groups, lda, tops, labels, labelSet, train, held, k);
    table.forEach((row, ci) => { row.fold_wf1.push(wf1[ci]); row.fold_precision.push(precision[ci]); });
    scored.push(held.length);
  }
  return {
    method: 'cross-validation', folds: foldCount, k, table, ...decide(table),
    held_out: { cap, rows: members.map((m) => m.length), scored },
    seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
  };
}
