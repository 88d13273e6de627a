import type { Dialogue } from '../corpus/types.js';
import { DemoService } from '../service/service.js';
import type { WriteDialogueInput } from '../service/writes.js';
import { settingsFromEnv } from '../settings.js';
import { loadSplitForIndex, type IndexSplitFlags } from './index-sources.js';
import { createEmbedder } from '../embed/create.js';
import { readManifest } from '../index/open.js';
import { compactIndex } from '../writes/compact.js';
import { describeSpace } from './build-index.js';
import { progressBar } from './progress.js';

/** erc-demos add's flags: the split of a corpus to add, as prompts and eval name theirs. */
export type AddCommandOptions = IndexSplitFlags;

/** A loaded dialogue as a write gives it: labels in its corpus' own names (the write maps them as the build did). */
function asWrite(d: Dialogue): WriteDialogueInput {
  return {
    id: d.id, corpus: d.corpus, split: d.split,
    turns: d.turns.map((t) => ({
      speaker: t.speaker, text: t.text, labels: t.sourceLabels ?? t.labels,
      ...(t.scores ? { scores: t.scores } : {}), ...(t.sourceId !== undefined ? { source_id: t.sourceId } : {}),
    })),
  };
}

/** Dialogues in writes of at most `max` utterances each, whole dialogues only (each write is atomic on its own). */
function inWrites(dialogues: readonly WriteDialogueInput[], max: number): WriteDialogueInput[][] {
  const writes: WriteDialogueInput[][] = [];
  let current: WriteDialogueInput[] = [];
  let size = 0;
  for (const d of dialogues) {
    if (current.length > 0 && size + d.turns.length > max) {
      writes.push(current);
      current = [];
      size = 0;
    }
    current.push(d);
    size += d.turns.length;
  }
  if (current.length > 0) writes.push(current);
  return writes;
}

/**
 * erc-demos add: the dialogues of a corpus split, read as `build` reads them (ids named as it names them, labels
 * through the index's maps), written to the index through its write log in writes of at most
 * ERC_DEMOS_MAX_WRITE_UTTERANCES utterances, each atomic and durable when its line is printed. A `serve` holding the
 * folder answers with them within ERC_DEMOS_WRITES_POLL_MS.
 */
export async function runAdd(o: AddCommandOptions): Promise<void> {
  const settings = settingsFromEnv();
  const service = await DemoService.load([o.index], { settings, role: 'batch' });
  try {
    const { index } = service.index();
    const corpus = loadSplitForIndex(index.manifest, o);
    const writes = inWrites(corpus.dialogues.map(asWrite), settings.maxWriteUtterances);
    let utterances = 0;
    for (const dialogues of writes) {
      const result = await service.addDialogues({ dialogues });
      utterances += dialogues.reduce((n, d) => n + d.turns.length, 0);
      console.log(JSON.stringify({ seq: result.seq, dialogues: result.dialogues.length, utterances: result.dialogues.reduce((n, d) => n + d.rows.length, 0), took_ms: result.took_ms }));
    }
    console.error(`added ${corpus.dialogues.length} dialogues (${utterances} utterances) to ${index.dir} in ${writes.length} write${writes.length === 1 ? '' : 's'}`);
  } finally {
    await service.close();
  }
}

/** erc-demos relabel: one turn's gold label, durably. */
export async function runRelabel(o: { index: string; dialogue: string; turn: number; label: string[] }): Promise<void> {
  const service = await DemoService.load([o.index], { settings: settingsFromEnv(), role: 'batch' });
  try {
    const labels = o.label.length === 1 ? { label: o.label[0] } : { labels: o.label };
    console.log(JSON.stringify(await service.relabel({ dialogue: o.dialogue, turn: o.turn, ...labels })));
  } finally {
    await service.close();
  }
}

/** erc-demos remove: a dialogue, durably; its rows are never returned again. */
export async function runRemove(o: { index: string; dialogue: string }): Promise<void> {
  const service = await DemoService.load([o.index], { settings: settingsFromEnv(), role: 'batch' });
  try {
    console.log(JSON.stringify(await service.removeDialogue({ dialogue: o.dialogue })));
  } finally {
    await service.close();
  }
}

/** erc-demos compact: the index rebuilt with what was written to it, swapped in while it is served. */
export async function runCompact(o: { index: string; keepSpace?: boolean }): Promise<void> {
  const settings = settingsFromEnv();
  const manifest = readManifest(o.index);
  const embedder = await createEmbedder(manifest.embedder.id, 'batch', settings);
  const bar = progressBar(`compacting (${embedder.id})`);
  try {
    const result = await compactIndex(o.index, {
      embedder, keepSpace: o.keepSpace, busyTimeoutMs: settings.writeLockTimeoutMs, cvHeldOutRows: settings.cvHeldOutRows, spaceFitRows: settings.spaceFitRows, onProgress: bar.update,
    });
    bar.stop();
    for (const line of describeSpace(result.manifest)) console.error(line);
    const { built, added, relabelled, removed } = result.before;
    console.error(`compacted ${o.index}: ${built} built + ${added} added - ${removed} removed (${relabelled} relabelled) = ${result.manifest.count} utterances, ` +
      `built in ${result.manifest.build_seconds}s; ${result.carried} write${result.carried === 1 ? '' : 's'} made meanwhile carried over`);
    console.log(JSON.stringify({ count: result.manifest.count, build_seconds: result.manifest.build_seconds, carried: result.carried, space: result.manifest.space_selection?.method ?? null, projection: result.manifest.projection }));
  } finally {
    bar.stop();
    await embedder.close?.();
  }
}
