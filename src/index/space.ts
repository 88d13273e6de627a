import { combineStatistics, fitLdaFromStatistics } from '../embed/lda.js';
import { project, type Projection } from '../embed/projection.js';
import { crossValidateSpaces, crossValidationSteps, foldStatistics, type SpaceCandidate, type SpaceChoice } from './choose-space.js';
import { onnxGram } from './gram.js';

/** What a build asks for: choose by cross-validation, the raw space, or LDA with given shrinkage and blend. */
export type SpaceRequest = { kind: 'auto' } | { kind: 'none' } | { kind: 'lda'; shrinkage: number; blend: number };

/** Why `auto` kept the raw space without cross-validating, or the cross-validation that decided. */
export type SpaceDecision = SpaceChoice | { method: 'forced' | 'not-applicable'; reason: string };

export interface FittedSpace {
  /** The projection every unseen query and every stored vector goes through (none: the raw space). */
  projection?: Projection;
  /** The same projection fitted once per fold without that fold's rows (cross-fitted demonstrations). */
  foldProjections?: Projection[];
  decision: SpaceDecision;
}

export interface SpaceInput {
  /** Raw embedding of every indexed row. */
  vectors: readonly Float32Array[];
  /** Each row's (first) label; undefined for an unlabelled row. */
  labels: readonly (string | undefined)[];
  folds: readonly number[];
  foldCount: number;
  multiLabel: boolean;
  /** Each row's corpus (a pooled index): cross-validation's held-out samples are stratified by it as by label. */
  corpora?: readonly string[];
  candidates?: readonly SpaceCandidate[];
  /** Held-out rows each cross-validation fold scores, at most (DEFAULT_CV_HELD_OUT_ROWS; 0: all). */
  cvHeldOutRows?: number;
  /** Progress over the whole fit (statistics, cross-validation, the chosen space's fits), step by step. */
  onProgress?: (done: number, total: number) => void;
}

/** Rows per fold needed to cross-validate: below this, a fold's kNN W-F1 is noise and `auto` keeps the raw space. */
export const MIN_ROWS_PER_FOLD = 20;

/** The LDA part alone (unit vector) of a projection, whatever its blend. */
export function ldaPart(p: Projection, x: Float32Array): Float32Array {
  return project({ ...p, blend: 0 }, x);
}

/**
 * Fits the space an index searches: for `auto`, dialogue-grouped cross-validation on the indexed (training) rows
 * chooses among the raw space and LDA blends (choose-space.ts); for LDA, chosen or forced, it is fitted on all rows
 * and once per fold without that fold, so that a training utterance's demonstrations can be searched in a space
 * that never saw its label.
 */
export async function fitSpace(request: SpaceRequest, input: SpaceInput): Promise<FittedSpace> {
  if (request.kind === 'none') return { decision: { method: 'forced', reason: '--projection none' } };
  const labelled = input.labels.flatMap((l, i) => (l !== undefined ? [i] : []));
  const distinct = new Set(labelled.map((i) => input.labels[i]));
  if (request.kind === 'auto') {
    if (input.multiLabel) return { decision: { method: 'not-applicable', reason: 'multi-label corpus: LDA needs one label per utterance; the raw space is used' } };
    if (distinct.size < 2) return { decision: { method: 'not-applicable', reason: 'fewer than two labels: the raw space is used' } };
    const perFold = Array.from({ length: input.foldCount }, (_, f) => labelled.filter((i) => input.folds[i] === f).length);
    if (Math.min(...perFold) < MIN_ROWS_PER_FOLD) {
      return { decision: { method: 'not-applicable', reason: `too few labelled utterances to cross-validate (${Math.min(...perFold)} in the smallest of ${input.foldCount} folds, ${MIN_ROWS_PER_FOLD} needed): the raw space is used` } };
    }
  }
  const gram = await onnxGram();
  try {
    const vectors = labelled.map((i) => input.vectors[i]);
    const labels = labelled.map((i) => input.labels[i]!);
    const folds = labelled.map((i) => input.folds[i]);
    const corpora = input.corpora ? labelled.map((i) => input.corpora![i]) : undefined;
    // Progress: statistics per fold, the cross-validation's steps (auto), the chosen space's fits (full, per fold).
    const total = input.foldCount + (request.kind === 'auto' ? crossValidationSteps(folds, input.foldCount) : 0) + 1 + input.foldCount;
    let done = 0;
    const onStep = () => input.onProgress?.(++done, total);
    input.onProgress?.(0, total);
    // One pass of statistics serves the cross-validation and the fits of the chosen space, full and per fold.
    const foldStats = await foldStatistics(gram, vectors, labels, folds, input.foldCount, onStep);
    let decision: SpaceDecision;
    let chosen: SpaceCandidate;
    if (request.kind === 'auto') {
      const choice = await crossValidateSpaces({
        vectors, labels, folds, foldCount: input.foldCount, gram, corpora, candidates: input.candidates, heldOutRows: input.cvHeldOutRows, foldStats, onStep,
      });
      decision = choice;
      chosen = choice.chosen;
    } else {
      decision = { method: 'forced', reason: `--projection lda (shrinkage ${request.shrinkage}, blend ${request.blend})` };
      chosen = { projection: 'lda', shrinkage: request.shrinkage, blend: request.blend };
    }
    if (chosen.projection === 'none') {
      input.onProgress?.(total, total);
      return { decision };
    }
    const projection = fitLdaFromStatistics(combineStatistics(foldStats), chosen.shrinkage, chosen.blend);
    onStep();
    let foldProjections: Projection[] | undefined;
    try {
      foldProjections = [];
      for (let f = 0; f < foldStats.length; f++) {
        foldProjections.push(fitLdaFromStatistics(combineStatistics(foldStats.filter((__, g) => g !== f)), chosen.shrinkage, chosen.blend));
        onStep();
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch {
      foldProjections = undefined; // some fold holds every example of all but one label: no cross-fitting
    }
    input.onProgress?.(total, total);
    return { projection, foldProjections, decision };
  } finally {
    await gram.close();
  }
}
