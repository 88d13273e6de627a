/** mulberry32: a small seeded generator, so folds and samples depend only on their seed and the ids they deal. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
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
