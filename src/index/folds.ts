import { seededShuffle } from '../random.js';

/** Folds of the dialogue-grouped cross-validation that chooses the space and cross-fits training demonstrations. */
export const DEFAULT_FOLDS = 5;
export const DEFAULT_FOLD_SEED = 1;

/**
 * Dialogue id -> fold in 0..folds-1: whole dialogues per fold (turns of one dialogue share speakers and topic, so
 * splitting one across folds would leak), ids sorted then shuffled by a seeded generator and dealt in turn, so folds
 * differ by at most one dialogue and the assignment depends only on the set of ids. With `groupOf` (a pooled index:
 * the dialogue's corpus), each group is dealt in turn on its own, so every corpus is spread evenly across the folds.
 */
export function assignFolds(dialogueIds: Iterable<string>, folds = DEFAULT_FOLDS, seed = DEFAULT_FOLD_SEED, groupOf: (id: string) => string = () => ''): Map<string, number> {
  const dealt = new Map<string, number>();
  return new Map(seededShuffle(dialogueIds, seed).map((id) => {
    const group = groupOf(id);
    const n = dealt.get(group) ?? 0;
    dealt.set(group, n + 1);
    return [id, n % folds];
  }));
}
