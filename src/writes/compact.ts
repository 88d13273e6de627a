import type { Dialogue } from '../corpus/types.js';
import type { Embedder } from '../embed/types.js';
import { buildIndex, type BuildOptions } from '../index/build.js';
import type { Manifest } from '../index/manifest.js';
import { DemoIndex } from '../index/open.js';
import type { IndexedRow } from '../index/rows.js';
import type { SpaceRequest } from '../index/space.js';
import { IndexWrites, type WriteLogSettings } from './index-writes.js';

export interface CompactOptions extends WriteLogSettings, Pick<BuildOptions, 'cvHeldOutRows' | 'spaceFitRows' | 'onProgress'> {
  /** The embedder the index was built with (a batch one: compaction embeds every row again). */
  embedder: Embedder;
  /** Keep the space the index has (its projection, forced) instead of choosing it again by cross-validation. */
  keepSpace?: boolean;
}

export interface CompactResult {
  manifest: Manifest;
  /** Rows of the index before (built), and written since its build. */
  before: { built: number; added: number; relabelled: number; removed: number };
  /** Writes made while the new build ran, carried into its log. */
  carried: number;
}

const sameLabels = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((l, i) => l === b[i]);

/** The index's rows as they are now (written ones included, removed ones not), as the dialogues a build takes. */
export function liveDialogues(rows: readonly IndexedRow[]): Dialogue[] {
  const byDialogue = new Map<string, Dialogue>();
  for (const row of rows) {
    if (row.removed) continue;
    let dialogue = byDialogue.get(row.dialogue);
    if (!dialogue) byDialogue.set(row.dialogue, (dialogue = { id: row.dialogue, corpus: row.corpus, split: row.split, turns: [] }));
    dialogue.turns.push({
      index: row.turn, speaker: row.speaker, text: row.text, labels: row.labels,
      ...(sameLabels(row.sourceLabels, row.labels) ? {} : { sourceLabels: row.sourceLabels }),
      ...(row.scores ? { scores: row.scores } : {}), ...(row.sourceId !== null ? { sourceId: row.sourceId } : {}),
    });
  }
  for (const d of byDialogue.values()) d.turns.sort((a, b) => a.index - b.index);
  return [...byDialogue.values()];
}

/**
 * The space a compaction builds: chosen again by cross-validation where the build chose it so (or found nothing to
 * choose); the same forced space where the user forced one; with keepSpace, the index's own projection.
 */
export function compactionSpace(manifest: Manifest, keepSpace: boolean): SpaceRequest {
  const forced = manifest.space_selection?.method === 'forced';
  if (!keepSpace && !forced) return { kind: 'auto' };
  const p = manifest.projection;
  return p ? { kind: 'lda', shrinkage: p.shrinkage, blend: p.blend } : { kind: 'none' };
}

/**
 * erc-demos compact: folds what was written to an index into a fresh build of all its rows as they are now, in its
 * folder, while any `serve` keeps answering from the old one. The build runs without a lock; then, holding the old
 * log's lock, the writes made meanwhile are carried into the new build's log and the new folder is swapped in
 * atomically (build.ts), so no acknowledged write is lost and the serving processes reopen it at their next look.
 */
export async function compactIndex(dir: string, o: CompactOptions): Promise<CompactResult> {
  const index = await DemoIndex.open(dir, { embedder: o.embedder });
  const writes = IndexWrites.open(index, o);
  try {
    const { manifest } = index;
    const { counts, builtCount } = index.writtenState;
    const dialogues = liveDialogues(index.rows);
    const sources = manifest.sources?.map((s) => {
      const mine = dialogues.filter((d) => d.corpus === s.corpus);
      return { ...s, dialogues: mine.length, utterances: mine.reduce((n, d) => n + d.turns.length, 0) };
    });
    const changedDialogues = counts.added + counts.removed > 0;
    let carried = 0;
    const built = await buildIndex({
      dialogues, corpus: manifest.corpus, splits: manifest.splits, embedder: o.embedder, out: index.dir, name: manifest.name,
      hnsw: { M: manifest.hnsw.M, efConstruction: manifest.hnsw.efConstruction, efSearch: manifest.hnsw.efSearch, seed: manifest.hnsw.seed },
      skippedRows: manifest.skipped_rows, projection: compactionSpace(manifest, o.keepSpace === true), folds: manifest.cross_fit?.folds,
      cvHeldOutRows: o.cvHeldOutRows, spaceFitRows: o.spaceFitRows, onProgress: o.onProgress, labels: manifest.labels,
      provenance: {
        label_space: manifest.label_space, label_map: manifest.label_map, ...(sources ? { sources } : {}),
        // A sample's record names the dialogues it holds: no longer true once dialogues were added or removed.
        sample: changedDialogues ? null : manifest.sample,
      },
      swap: (tmp, swapIn) => {
        carried = writes.handOver(tmp, swapIn);
      },
    });
    return { manifest: built, before: { built: builtCount, ...counts }, carried };
  } finally {
    writes.close();
  }
}
