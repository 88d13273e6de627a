import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { normalize } from './types.js';

/**
 * A linear map of the embedding space learned from training labels: y = (x - mean) W, then L2-normalised. With
 * LDA, same-emotion utterances end up closer than in the raw space (docs/RETRIEVAL-QUALITY.md has the numbers).
 */
export interface Projection {
  kind: 'lda';
  dimIn: number;
  /** Dimensions of the LDA part (classes - 1). */
  dimOut: number;
  mean: Float32Array;
  /** Row-major dimIn x dimOut. */
  weights: Float32Array;
  /**
   * Share of the raw embedding kept beside the LDA part: the output is [sqrt(b) x, sqrt(1-b) lda(x)], so its
   * cosine is b * cos(raw) + (1 - b) * cos(lda): demonstrations stay on topic while leaning to the same emotion.
   */
  blend: number;
}

export function projectedDim(p: Pick<Projection, 'dimIn' | 'dimOut' | 'blend'>): number {
  return p.blend > 0 ? p.dimIn + p.dimOut : p.dimOut;
}

export function project(p: Projection, x: Float32Array): Float32Array {
  const lda = new Float32Array(p.dimOut);
  for (let i = 0; i < p.dimIn; i++) {
    const xi = x[i] - p.mean[i];
    if (xi === 0) continue;
    const row = i * p.dimOut;
    for (let j = 0; j < p.dimOut; j++) lda[j] += xi * p.weights[row + j];
  }
  normalize(lda);
  if (p.blend <= 0) return lda;
  const out = new Float32Array(p.dimIn + p.dimOut);
  const a = Math.sqrt(p.blend);
  const b = Math.sqrt(1 - p.blend);
  for (let i = 0; i < p.dimIn; i++) out[i] = a * x[i];
  for (let j = 0; j < p.dimOut; j++) out[p.dimIn + j] = b * lda[j];
  return normalize(out);
}

/**
 * Fisher LDA with shrinkage: whiten the (shrunk) within-class scatter, then keep the top C-1 directions of the
 * between-class scatter. Shrinkage s mixes the within-class scatter with s * (its mean variance) * I, which keeps
 * the whitening stable in 512 dims with few examples of rare emotions.
 */
export function fitLda(vectors: readonly Float32Array[], labels: readonly string[], shrinkage = 0.1, blend = 0): Projection {
  const classes = [...new Set(labels)].sort();
  if (classes.length < 2) throw new Error('LDA needs at least two labels in the training data');
  const d = vectors[0].length;
  const n = vectors.length;
  const mean = new Float64Array(d);
  for (const v of vectors) for (let i = 0; i < d; i++) mean[i] += v[i] / n;
  const classMeans = new Map<string, { sum: Float64Array; count: number }>();
  for (const [k, v] of vectors.entries()) {
    const c = classMeans.get(labels[k]) ?? { sum: new Float64Array(d), count: 0 };
    for (let i = 0; i < d; i++) c.sum[i] += v[i];
    c.count += 1;
    classMeans.set(labels[k], c);
  }
  // Within-class scatter: sum over rows of (x - mean_c)(x - mean_c)^T, accumulated on the upper triangle.
  const sw = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (const [k, v] of vectors.entries()) {
    const c = classMeans.get(labels[k])!;
    for (let i = 0; i < d; i++) centred[i] = v[i] - c.sum[i] / c.count;
    for (let i = 0; i < d; i++) {
      const ci = centred[i];
      const row = i * d;
      for (let j = i; j < d; j++) sw[row + j] += ci * centred[j];
    }
  }
  let trace = 0;
  for (let i = 0; i < d; i++) trace += sw[i * d + i] / n;
  const within = new Matrix(d, d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const value = ((1 - shrinkage) * sw[i * d + j]) / n + (i === j ? (shrinkage * trace) / d : 0);
      within.set(i, j, value);
      within.set(j, i, value);
    }
  }
  const between = new Matrix(d, d);
  for (const c of classMeans.values()) {
    const diff = Array.from({ length: d }, (_, i) => c.sum[i] / c.count - mean[i]);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) between.set(i, j, between.get(i, j) + (c.count / n) * diff[i] * diff[j]);
  }
  const eig = new EigenvalueDecomposition(within, { assumeSymmetric: true });
  const invSqrt = Matrix.diag(eig.realEigenvalues.map((e) => 1 / Math.sqrt(Math.max(e, 1e-12))));
  const whiten = eig.eigenvectorMatrix.mmul(invSqrt).mmul(eig.eigenvectorMatrix.transpose());
  const m = whiten.mmul(between).mmul(whiten);
  const eig2 = new EigenvalueDecomposition(m.add(m.transpose()).mul(0.5), { assumeSymmetric: true });
  const order = eig2.realEigenvalues.map((e, i) => [e, i] as const).sort((a, b) => b[0] - a[0]).slice(0, classes.length - 1).map(([, i]) => i);
  const directions = whiten.mmul(eig2.eigenvectorMatrix.subMatrixColumn(order));
  return {
    kind: 'lda',
    dimIn: d,
    dimOut: order.length,
    mean: Float32Array.from(mean),
    weights: Float32Array.from(directions.to1DArray()),
    blend,
  };
}
