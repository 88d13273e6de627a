import type { PoolingMode } from './st-config.js';
import { normalize } from './types.js';

/**
 * One sentence vector from a model's token vectors, as sentence-transformers' Pooling module computes it: `hidden`
 * is row-major tokens x dim for one sentence, `mask` its attention mask (1 for real tokens; padding is 0, on the
 * right). `skip` leading tokens (a prompt not pooled) are masked out first, as sentence-transformers does.
 */
export function pool(hidden: Float32Array, mask: ArrayLike<number>, dim: number, mode: PoolingMode, skip = 0): Float32Array {
  const tokens = mask.length;
  const on = (t: number) => t >= skip && Number(mask[t]) > 0;
  const out = new Float32Array(dim);
  if (mode === 'cls') {
    out.set(hidden.subarray(0, dim));
    return out;
  }
  if (mode === 'lasttoken') {
    // The last real token (right padding): its index is the mask's sum less one.
    let last = 0;
    for (let t = 0; t < tokens; t++) if (Number(mask[t]) > 0) last = t;
    out.set(hidden.subarray(last * dim, (last + 1) * dim));
    return out;
  }
  if (mode === 'max') {
    out.fill(-Infinity);
    for (let t = 0; t < tokens; t++) {
      if (!on(t)) continue;
      for (let i = 0; i < dim; i++) out[i] = Math.max(out[i], hidden[t * dim + i]);
    }
    return out;
  }
  // mean, mean_sqrt_len_tokens, weightedmean (weights 1..T by position)
  let weight = 0;
  for (let t = 0; t < tokens; t++) {
    if (!on(t)) continue;
    const w = mode === 'weightedmean' ? t + 1 : 1;
    weight += w;
    for (let i = 0; i < dim; i++) out[i] += w * hidden[t * dim + i];
  }
  const divisor = mode === 'mean_sqrt_len_tokens' ? Math.sqrt(weight) : weight;
  for (let i = 0; i < dim; i++) out[i] /= Math.max(divisor, 1e-9);
  return out;
}

/**
 * pool(), then L2-normalised whatever the model's Normalize module says: the index searches by cosine, which a
 * vector's length does not change, so the unit vector ranks exactly as the model's own would.
 */
export function sentenceVector(hidden: Float32Array, mask: ArrayLike<number>, dim: number, mode: PoolingMode, skip = 0): Float32Array {
  return normalize(pool(hidden, mask, dim, mode, skip));
}
