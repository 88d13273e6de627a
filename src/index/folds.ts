/** Folds of the dialogue-grouped cross-validation that chooses the space and cross-fits training demonstrations. */
export const DEFAULT_FOLDS = 5;
export const DEFAULT_FOLD_SEED = 1;

/** mulberry32: a small seeded generator, so the same dialogues always land in the same folds. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Dialogue id -> fold in 0..folds-1: whole dialogues per fold (turns of one dialogue share speakers and topic, so
 * splitting one across folds would leak), ids sorted then shuffled by a seeded generator and dealt in turn, so folds
 * differ by at most one dialogue and the assignment depends only on the set of ids.
 */
export function assignFolds(dialogueIds: Iterable<string>, folds = DEFAULT_FOLDS, seed = DEFAULT_FOLD_SEED): Map<string, number> {
  const ids = [...new Set(dialogueIds)].sort();
  const random = seeded(seed);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  return new Map(ids.map((id, i) => [id, i % folds]));
}
