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
  /** The LDA fit's shrinkage (recorded, not used to project). */
  shrinkage: number;
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
