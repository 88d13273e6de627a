import { CholeskyDecomposition, EigenvalueDecomposition, Matrix } from 'ml-matrix';
import type { Projection } from './projection.js';

/**
 * What Fisher LDA needs of a set of labelled vectors, in a form that adds up: counts and sums per class and the
 * second moment sum(x x^T). Cross-validation accumulates one per fold once and fits "all folds but f" by adding
 * the others, instead of passing over the vectors again for every fold.
 */
export interface LdaStatistics {
  dim: number;
  count: number;
  classes: Map<string, { count: number; sum: Float64Array }>;
  /** sum over rows of x x^T, row-major dim x dim; only the upper triangle (j >= i) is read. */
  moment: Float64Array;
}

/** Counts and sums per class; the moment is left to the caller (a JavaScript loop below, or a matrix product). */
export function classSums(vectors: readonly Float32Array[], labels: readonly string[], dim: number): LdaStatistics['classes'] {
  const classes: LdaStatistics['classes'] = new Map();
  for (const [k, v] of vectors.entries()) {
    const c = classes.get(labels[k]) ?? { count: 0, sum: new Float64Array(dim) };
    classes.set(labels[k], c);
    c.count += 1;
    for (let i = 0; i < dim; i++) c.sum[i] += v[i];
  }
  return classes;
}

export function ldaStatistics(vectors: readonly Float32Array[], labels: readonly string[], dim = vectors[0]?.length ?? 0): LdaStatistics {
  const moment = new Float64Array(dim * dim);
  const x = new Float64Array(dim);
  for (const v of vectors) {
    x.set(v);
    for (let i = 0; i < dim; i++) {
      const xi = x[i];
      const row = i * dim;
      for (let j = i; j < dim; j++) moment[row + j] += xi * x[j];
    }
  }
  return { dim, count: vectors.length, classes: classSums(vectors, labels, dim), moment };
}

/** The statistics of the union of disjoint sets. */
export function combineStatistics(parts: readonly LdaStatistics[]): LdaStatistics {
  const dim = parts[0].dim;
  const out: LdaStatistics = { dim, count: 0, classes: new Map(), moment: new Float64Array(dim * dim) };
  for (const p of parts) {
    out.count += p.count;
    for (let i = 0; i < out.moment.length; i++) out.moment[i] += p.moment[i];
    for (const [label, c] of p.classes) {
      const o = out.classes.get(label) ?? { count: 0, sum: new Float64Array(dim) };
      o.count += c.count;
      for (let i = 0; i < dim; i++) o.sum[i] += c.sum[i];
      out.classes.set(label, o);
    }
  }
  return out;
}

/**
 * Fisher LDA with shrinkage: the within-class scatter (over n) is shrunk towards s * (its mean variance) * I,
 * which keeps it invertible in 512 dims with few examples of rare emotions; the directions are the top C-1
 * solutions of B u = lambda W u, scaled so that u^T W u = 1 (what whitening W, then keeping the top C-1 directions
 * of the whitened between-class scatter, gives up to a rotation: cosines between projected vectors are the same).
 * Solved in the C-dimensional span of W^-1 (class means - mean), so the cost is one Cholesky factorisation.
 */
export function fitLdaFromStatistics(stats: LdaStatistics, shrinkage: number, blend: number): Projection {
  const classes = [...stats.classes.entries()].filter(([, c]) => c.count > 0).sort(([a], [b]) => (a < b ? -1 : 1));
  if (classes.length < 2) throw new Error('LDA needs at least two labels in the training data');
  const { dim: d, count: n } = stats;
  const mean = new Float64Array(d);
  for (const [, c] of classes) for (let i = 0; i < d; i++) mean[i] += c.sum[i] / n;
  // Within-class scatter / n = (sum x x^T - sum_c s_c s_c^T / n_c) / n.
  const within = new Matrix(d, d);
  let trace = 0;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let value = stats.moment[i * d + j];
      for (const [, c] of classes) value -= (c.sum[i] * c.sum[j]) / c.count;
      value /= n;
      within.set(i, j, value);
      within.set(j, i, value);
    }
    trace += within.get(i, i);
  }
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) within.set(i, j, (1 - shrinkage) * within.get(i, j) + (i === j ? (shrinkage * trace) / d : 0));
  }
  // Between-class scatter B = D D^T, D's columns sqrt(n_c / n) (mean_c - mean).
  const D = new Matrix(d, classes.length);
  classes.forEach(([, c], k) => {
    const w = Math.sqrt(c.count / n);
    for (let i = 0; i < d; i++) D.set(i, k, w * (c.sum[i] / c.count - mean[i]));
  });
  // W = L L^T; the generalized problem becomes an ordinary one for L^-1 B L^-T = (L^-1 D)(L^-1 D)^T, whose
  // eigenvectors are the left singular vectors of E = L^-1 D, found from the small C x C matrix E^T E.
  const L = new CholeskyDecomposition(within).lowerTriangularMatrix;
  const E = forwardSubstitute(L, D);
  const small = new EigenvalueDecomposition(E.transpose().mmul(E), { assumeSymmetric: true });
  const order = small.realEigenvalues.map((e, i) => [e, i] as const).sort((a, b) => b[0] - a[0]).slice(0, classes.length - 1);
  const V = new Matrix(d, order.length);
  order.forEach(([value, col], k) => {
    const scale = 1 / Math.sqrt(Math.max(value, 1e-12));
    const e = E.mmul(small.eigenvectorMatrix.subMatrixColumn([col]));
    for (let i = 0; i < d; i++) V.set(i, k, e.get(i, 0) * scale);
  });
  const U = backSubstitute(L, V); // u = L^-T v
  return {
    kind: 'lda', dimIn: d, dimOut: order.length, mean: Float32Array.from(mean), weights: Float32Array.from(U.to1DArray()), blend, shrinkage,
  };
}

/** L^-1 B for lower-triangular L. */
function forwardSubstitute(L: Matrix, B: Matrix): Matrix {
  const n = L.rows;
  const X = new Matrix(n, B.columns);
  for (let c = 0; c < B.columns; c++) {
    for (let i = 0; i < n; i++) {
      let s = B.get(i, c);
      for (let k = 0; k < i; k++) s -= L.get(i, k) * X.get(k, c);
      X.set(i, c, s / L.get(i, i));
    }
  }
  return X;
}

/** L^-T B for lower-triangular L. */
function backSubstitute(L: Matrix, B: Matrix): Matrix {
  const n = L.rows;
  const X = new Matrix(n, B.columns);
  for (let c = 0; c < B.columns; c++) {
    for (let i = n - 1; i >= 0; i--) {
      let s = B.get(i, c);
      for (let k = i + 1; k < n; k++) s -= L.get(k, i) * X.get(k, c);
      X.set(i, c, s / L.get(i, i));
    }
  }
  return X;
}

/** LDA fitted on labelled vectors (see fitLdaFromStatistics). */
export function fitLda(vectors: readonly Float32Array[], labels: readonly string[], shrinkage = 0.1, blend = 0): Projection {
  if (vectors.length === 0) throw new Error('LDA needs at least two labels in the training data');
  return fitLdaFromStatistics(ldaStatistics(vectors, labels), shrinkage, blend);
}
