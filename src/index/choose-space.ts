import { classSums, combineStatistics, fitLdaFromStatistics, type LdaStatistics } from '../embed/lda.js';
import { project } from '../embed/projection.js';
import { classificationReport, weightedVote } from '../metrics.js';
import type { Gram } from './gram.js';

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
/** Query rows per onnxruntime call: a block's scores are block x rows floats (40 MB at 1024 x 10k). */
const QUERY_BLOCK = 1024;

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
  seconds: number;
}

export function candidateName(c: SpaceCandidate): string {
  return c.projection === 'none' ? 'raw' : `lda s=${c.shrinkage} b=${c.blend}`;
}

/**
 * The k best rows for several blends at once, each scoring b * raw[r] + (1 - b) * lda[r] (lda absent: raw alone):
 * one pass over the rows for all the blends of one LDA fit, each blend keeping its own k best, best first.
 */
export function topKBlends(raw: Float32Array, lda: Float32Array | undefined, blends: readonly number[], k: number): { ids: Int32Array; scores: Float64Array; size: number }[] {
  const tops = blends.map(() => ({ ids: new Int32Array(k), scores: new Float64Array(k).fill(-Infinity), size: 0 }));
  const thresholds = new Float64Array(blends.length).fill(-Infinity);
  for (let r = 0; r < raw.length; r++) {
    const rv = raw[r];
    const lv = lda ? lda[r] : 0;
    for (let c = 0; c < blends.length; c++) {
      const b = blends[c];
      const s = lda ? b * rv + (1 - b) * lv : rv;
      if (s <= thresholds[c]) continue;
      const top = tops[c];
      let p = top.size < k ? top.size++ : k - 1;
      while (p > 0 && top.scores[p - 1] < s) {
        top.scores[p] = top.scores[p - 1];
        top.ids[p] = top.ids[p - 1];
        p--;
      }
      top.scores[p] = s;
      top.ids[p] = r;
      if (top.size === k) thresholds[c] = top.scores[k - 1];
    }
  }
  return tops;
}

/** Row-major concatenation of vectors. */
export function flat(vectors: readonly Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(vectors.length * dim);
  vectors.forEach((v, n) => out.set(v, n * dim));
  return out;
}

/** The transpose of a row-major rows x dim matrix. */
function transpose(m: Float32Array, rows: number, dim: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let i = 0; i < dim; i++) out[i * rows + r] = m[r * dim + i];
  return out;
}

/** LDA statistics of a set of vectors, the second moment X^T X as one matrix product. */
export async function statisticsWith(gram: Gram, vectors: readonly Float32Array[], labels: readonly string[], dim: number): Promise<LdaStatistics> {
  const moment = new Float64Array(dim * dim);
  if (vectors.length > 0) {
    const xt = transpose(flat(vectors, dim), vectors.length, dim);
    moment.set(await gram.dots(xt, xt, vectors.length));
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

/** The steps crossValidateSpaces reports through `onStep`: per fold, its LDA fits, then each block of held-out rows. */
export function crossValidationSteps(folds: readonly number[], foldCount: number): number {
  const sizes = new Array<number>(foldCount).fill(0);
  for (const f of folds) sizes[f] += 1;
  return sizes.reduce((n, size) => n + 1 + Math.ceil(size / QUERY_BLOCK), 0);
}

export interface CrossValidationInput {
  /** Raw (unit) embedding of each labelled row. */
  vectors: readonly Float32Array[];
  labels: readonly string[];
  /** Fold of each row, 0..folds-1. */
  folds: readonly number[];
  foldCount: number;
  gram: Gram;
  candidates?: readonly SpaceCandidate[];
  k?: number;
  /** foldStatistics() of these rows, where the caller has them already (default: computed here). */
  foldStats?: readonly LdaStatistics[];
  /** Called after each step (crossValidationSteps() in all): a fold's LDA fits, a block of held-out rows scored. */
  onStep?: () => void;
}

/**
 * Chooses the search space by dialogue-grouped k-fold cross-validation on the training rows alone: for each fold,
 * every candidate space is fitted on the other folds, and each held-out row is labelled by the similarity-weighted
 * vote of its k nearest rows of the other folds (kNN weighted-F1, as `erc-demos eval` scores a test split). The
 * best candidate by mean W-F1 is kept only if its gain over the raw space exceeds the folds' spread (the standard
 * deviation of the per-fold gains); otherwise the raw space stays. Blends reuse one LDA fit: the blended cosine is
 * b * cos(raw) + (1 - b) * cos(lda).
 */
export async function crossValidateSpaces(input: CrossValidationInput): Promise<SpaceChoice> {
  const started = performance.now();
  const candidates = input.candidates ?? DEFAULT_SPACE_CANDIDATES;
  const k = input.k ?? CV_NEIGHBOURS;
  const { vectors, labels, folds, foldCount } = input;
  const dim = vectors[0].length;
  const shrinkages = [...new Set(candidates.flatMap((c) => (c.projection === 'lda' ? [c.shrinkage] : [])))];
  const members = Array.from({ length: foldCount }, (_, f) => folds.flatMap((g, i) => (g === f ? [i] : [])));
  const foldStats = input.foldStats ?? await foldStatistics(input.gram, vectors, labels, folds, foldCount);
  const table: CvRow[] = candidates.map((candidate) => ({ candidate, fold_wf1: [], mean_wf1: null, fold_precision: [] }));
  const labelSet = [...new Set(labels)].sort();

  for (let f = 0; f < foldCount; f++) {
    const held = members[f];
    const train = folds.flatMap((g, i) => (g !== f ? [i] : []));
    const n = train.length;
    // LDA part (unit vectors) of every training and held-out row, per shrinkage, fitted without fold f.
    const lda = new Map<number, { train: Float32Array; held: Float32Array; dim: number } | null>();
    const trainStats = combineStatistics(foldStats.filter((_, g) => g !== f));
    for (const s of shrinkages) {
      try {
        const p = fitLdaFromStatistics(trainStats, s, 0);
        const projectAll = (rows: readonly number[]) => flat(rows.map((i) => project(p, vectors[i])), p.dimOut);
        lda.set(s, { train: projectAll(train), held: projectAll(held), dim: p.dimOut });
      } catch {
        lda.set(s, null); // fewer than two labels outside this fold
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    input.onStep?.();
    const predictions = candidates.map(() => [] as string[]);
    const sameLabel = candidates.map(() => 0);
    const trainFlat = flat(train.map((i) => vectors[i]), dim);
    // Candidates grouped by the LDA fit they share (the raw space on its own), so that one pass scores a group.
    const groups = [undefined, ...shrinkages].map((shrinkage) => ({
      shrinkage,
      members: candidates.flatMap((c, ci) => ((c.projection === 'none' ? undefined : c.shrinkage) === shrinkage ? [ci] : [])),
    })).filter((g) => g.members.length > 0);
    for (let start = 0; start < held.length; start += QUERY_BLOCK) {
      const block = held.slice(start, start + QUERY_BLOCK);
      const raw = await input.gram.dots(flat(block.map((i) => vectors[i]), dim), trainFlat, dim);
      const ldaDots = new Map<number, Float32Array>();
      for (const [s, spaces] of lda) {
        if (spaces) ldaDots.set(s, await input.gram.dots(spaces.held.subarray(start * spaces.dim, (start + block.length) * spaces.dim), spaces.train, spaces.dim));
      }
      for (let q = 0; q < block.length; q++) {
        const rawRow = raw.subarray(q * n, (q + 1) * n);
        for (const { shrinkage, members } of groups) {
          const l = shrinkage === undefined ? undefined : ldaDots.get(shrinkage)?.subarray(q * n, (q + 1) * n);
          if (shrinkage !== undefined && !l) continue; // not fitted without this fold
          const blends = members.map((ci) => { const c = candidates[ci]; return c.projection === 'lda' ? c.blend : 1; });
          topKBlends(rawRow, l, blends, k).forEach((top, m) => {
            const ci = members[m];
            const neighbours = Array.from({ length: top.size }, (_, x) => ({ label: labels[train[top.ids[x]]], score: top.scores[x] }));
            predictions[ci].push(weightedVote(neighbours) ?? '');
            sameLabel[ci] += neighbours.filter((x) => x.label === labels[block[q]]).length / k;
          });
        }
      }
      input.onStep?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const gold = held.map((i) => labels[i]);
    candidates.forEach((c, ci) => {
      const fitted = c.projection === 'none' || lda.get(c.shrinkage);
      table[ci].fold_wf1.push(fitted && held.length > 0 ? classificationReport(gold, predictions[ci], labelSet).weighted_f1 : null);
      table[ci].fold_precision.push(fitted && held.length > 0 ? Number(((100 * sameLabel[ci]) / held.length).toFixed(2)) : null);
    });
  }

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
  return {
    method: 'cross-validation', folds: foldCount, k, table, chosen: keep ? best.candidate : raw.candidate, gain, gain_sd: sd, reason,
    seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
  };
}
