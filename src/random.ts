/**
 * The largest seed: mulberry32's state is 32 bits, so seeds are whole numbers from 0 to 2^32 - 1. A larger one would
 * wrap (2^32 gives the sequence of 0) and two different recorded seeds would give the same sample.
 */
export const MAX_SEED = 0xffffffff;

/** Whether `seed` is one the generator takes as it is (a whole number in [0, MAX_SEED]). */
export function isSupportedSeed(seed: number): boolean {
  return Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED;
}

/**
 * mulberry32: a small seeded generator, so folds and samples depend only on their seed and the ids they deal. A seed
 * outside [0, MAX_SEED] is a RangeError, never wrapped onto another (a user's seed is checked before, naming it).
 */
export function seeded(seed: number): () => number {
  if (!isSupportedSeed(seed)) throw new RangeError(`seed ${seed} is not a whole number from 0 to ${MAX_SEED}`);
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The ids sorted, then shuffled in place by a seeded Fisher-Yates: the order depends only on the set and the seed. */
export function seededShuffle(ids: Iterable<string>, seed: number): string[] {
  const out = [...new Set(ids)].sort();
  const random = seeded(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
