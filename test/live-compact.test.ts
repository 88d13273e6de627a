import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import type { Dialogue } from '../src/corpus/types.js';
import { createEmbedder } from '../src/embed/create.js';
import type { Embedder } from '../src/embed/types.js';
import { evaluateRetrieval } from '../src/eval/evaluate.js';
import { buildIndex } from '../src/index/build.js';
import { DemoIndex, readManifest } from '../src/index/open.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { DemoService } from '../src/service/service.js';
import { compactIndex, liveDialogues } from '../src/writes/compact.js';
import { HAVE_SHARED, SHARED_DATA, SHARED_SKIP_REASON, tempDir } from './helpers.js';

const asWrite = (d: Dialogue) => ({ id: d.id, corpus: d.corpus, split: d.split, turns: d.turns.map((t) => ({ speaker: t.speaker, text: t.text, labels: t.labels })) });

describe('erc-demos compact: the writes folded into a fresh build, swapped in while served', () => {
  const dir = tempDir();
  const out = join(dir, 'sample');
  let embedder: Embedder;

  beforeAll(async () => {
    embedder = await createEmbedder('use-lite');
  });
  afterAll(async () => {
    await embedder?.close?.();
  });

  it('keeps every acknowledged write, those made while it built too; the serving service sees the new build', async () => {
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues.slice(0, 20), corpus: 'sample', splits: ['train'], embedder, out, name: 'sample' });
    const serving = await DemoService.load([out]);
    try {
      await serving.addDialogues({ dialogues: sample.dialogues.slice(20, 23).map(asWrite) });
      await serving.removeDialogue({ dialogue: sample.dialogues[0].id });
      await serving.relabel({ dialogue: sample.dialogues[1].id, turn: 0, label: 'disgust' });
      const expected = liveDialogues(serving.index().index.rows);
      const during: Promise<unknown>[] = [];
      const result = await compactIndex(out, {
        embedder, busyTimeoutMs: 5000,
        onProgress: (_done, _total, phase) => {
          // Writes while the new build embeds (after its snapshot): carried into its log.
          if (phase === 'embedding' && during.length === 0) {
            during.push(serving.relabel({ dialogue: sample.dialogues[2].id, turn: 1, label: 'fear' }));
            during.push(serving.removeDialogue({ dialogue: sample.dialogues[3].id }));
          }
        },
      });
      expect(await Promise.all(during)).toMatchObject([{ seq: 4 }, { seq: 5 }]);
      expect(result.carried).toBe(2);
      expect(result.before).toMatchObject({ built: 80, added: 12, removed: 4, relabelled: 1 });
      expect(result.manifest.count).toBe(88);
      // The serving service finds its folder rebuilt, and refuses to write to the old build.
      expect(serving.refreshWrites()).toEqual(['sample']);
      await expect(serving.relabel({ dialogue: sample.dialogues[4].id, turn: 0, label: 'joy' })).rejects.toMatchObject({ code: 'WRITE_BUSY', message: expect.stringMatching(/another build/) });
      const reopened = await DemoService.load([out]);
      try {
        const { index } = reopened.index();
        expect(reopened.writtenSummary('sample')).toMatchObject({ seq: 2, relabelled: 1, removed: 4, added: 0 });
        const now = liveDialogues(index.rows);
        // What the serving service had, with the two writes made during the build applied.
        const afterDuring = expected.filter((d) => d.id !== sample.dialogues[3].id).map((d) =>
          d.id === sample.dialogues[2].id ? { ...d, turns: d.turns.map((t) => (t.index === 1 ? { ...t, labels: ['fear'] } : t)) } : d);
        expect(now).toEqual(afterDuring);
        expect(index.dialogueRows(sample.dialogues[0].id)).toEqual([]);
        expect(index.rows[index.dialogueRows(sample.dialogues[1].id)[0]].labels).toEqual(['disgust']);
        const found = await reopened.demonstrations({ utterance: sample.dialogues[21].turns[0].text, k: 1 });
        expect(found.demonstrations[0]).toMatchObject({ dialogue: sample.dialogues[21].id, turn: 0 });
        // The folder's files are the new build's, checksummed.
        expect((await DemoIndex.open(out, { verify: true })).manifest.count).toBe(88);
      } finally {
        await reopened.close();
      }
    } finally {
      await serving.close();
    }
  });

  it.skipIf(!HAVE_SHARED)('on MELD: the same space chosen as a fresh build of the same rows, and W-F1 within 0.3', async () => {
    const meld = loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: ['train'] });
    const dev = loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: ['dev'] }).dialogues.slice(0, 60);
    const first = meld.dialogues.slice(0, 300);
    const more = meld.dialogues.slice(300, 420);
    const live = join(dir, 'meld-live');
    const fresh = join(dir, 'meld-fresh');
    await buildIndex({ dialogues: first, corpus: 'meld', splits: ['train'], embedder, out: live, name: 'meld', projection: { kind: 'auto' } });
    const service = await DemoService.load([live]);
    try {
      await service.addDialogues({ dialogues: more.map(asWrite) });
    } finally {
      await service.close();
    }
    await compactIndex(live, { embedder, busyTimeoutMs: 5000 });
    await buildIndex({ dialogues: [...first, ...more], corpus: 'meld', splits: ['train'], embedder, out: fresh, name: 'meld', projection: { kind: 'auto' } });
    const [a, b] = [readManifest(live), readManifest(fresh)];
    expect(a.count).toBe(b.count);
    expect(a.space_selection).toMatchObject({ chosen: (b.space_selection as { chosen: unknown }).chosen });
    expect(a.projection).toEqual(b.projection);
    const score = async (path: string) => (await evaluateRetrieval(await DemoIndex.open(path), embedder, dev, { k: 10, search: 'exact' })).knn_weighted_f1;
    expect(Math.abs((await score(live)) - (await score(fresh)))).toBeLessThanOrEqual(0.3);
  }, 600_000);
});
if (!HAVE_SHARED) console.warn(SHARED_SKIP_REASON);
