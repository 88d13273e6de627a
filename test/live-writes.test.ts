import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import type { Embedder } from '../src/embed/types.js';
import { buildIndex } from '../src/index/build.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { retrieveExact } from '../src/retrieve/retrieve.js';
import { DemoService } from '../src/service/service.js';
import { foldOfWritten } from '../src/index/written.js';
import { builtIdentity, writeLogFile } from '../src/writes/log.js';
import { tempDir } from './helpers.js';

/**
 * Writes to a live index through the library door (DemoService), against the real embedder, index and write log:
 * added rows found at once and after reopening (replayed from the log), relabels and removals in every strategy,
 * a second service on the same folder converging, bad writes refused with nothing written.
 */
describe('live writes: add, relabel, remove', () => {
  const dir = tempDir();
  const out = join(dir, 'sample');
  let embedder: Embedder;
  let service: DemoService;

  beforeAll(async () => {
    embedder = await createEmbedder('use-lite');
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out, name: 'sample' });
    service = await DemoService.load([out]);
  });
  afterAll(async () => {
    await service?.close();
    await embedder?.close?.();
  });

  const added = {
    id: 'new-1',
    turns: [
      { speaker: 'Zed', text: 'The volcano erupted right over our picnic blanket!', label: 'surprise' },
      { speaker: 'Yara', text: 'My marmalade jar exploded in the oven, what a mess.', label: 'disgust' },
    ],
  };

  it('an added dialogue is answered at once, with its label, new ids and its dialogue name', async () => {
    const before = service.index().index.rows.length;
    const result = await service.addDialogues({ dialogues: [added] });
    expect(result.seq).toBe(1);
    expect(result.dialogues).toEqual([{ id: 'new-1', rows: [before, before + 1] }]);
    expect(existsSync(join(out, writeLogFile(builtIdentity(out))))).toBe(true);
    const answer = await service.demonstrations({ utterance: 'The volcano erupted right over our picnic blanket!', k: 3 });
    expect(answer.demonstrations[0]).toMatchObject({ id: before, dialogue: 'new-1', turn: 0, label: 'surprise', speaker: 'Zed' });
    expect(answer.demonstrations[0].score).toBeCloseTo(1, 4);
    // The same as an exact scan of every row, built and written.
    const { index } = service.index();
    const vector = index.queryVector((await embedder.embed(['The volcano erupted right over our picnic blanket!']))[0]);
    expect(answer.demonstrations.map((d) => d.id)).toEqual(retrieveExact(index, vector, { k: 3, strategy: 'topk' }).map((d) => d.id));
  });

  it('per-label finds a written row under its label; a label filter sees it', async () => {
    const perLabel = await service.demonstrations({ utterance: 'My marmalade jar exploded in the oven', strategy: 'per-label', k: 1, labels: ['disgust'] });
    expect(perLabel.demonstrations[0]).toMatchObject({ dialogue: 'new-1', turn: 1, label: 'disgust' });
  });

  it('a duplicate id, an unknown label or dialogue, a turn out of range are refused, naming the field, and nothing is written', async () => {
    const seq = service.writeSeq('sample');
    await expect(service.addDialogues({ dialogues: [added] })).rejects.toMatchObject({ code: 'DIALOGUE_EXISTS', param: 'dialogues.0.id' });
    await expect(service.addDialogues({ dialogues: [{ id: 'x', turns: [{ speaker: 'a', text: 'hello', label: 'ecstatic' }] }] }))
      .rejects.toMatchObject({ code: 'INPUT_INVALID', param: 'dialogues.0.turns.0.label' });
    await expect(service.addDialogues({ dialogues: [{ id: 'x', turns: [{ speaker: 'a', text: 'hello' }] }] }))
      .rejects.toMatchObject({ param: 'dialogues.0.turns.0.label' });
    await expect(service.addDialogues({ dialogues: [{ id: 'x', split: 'test', turns: [{ speaker: 'a', text: 'hello', label: 'joy' }] }] }))
      .rejects.toMatchObject({ param: 'dialogues.0.split' });
    await expect(service.relabel({ dialogue: 'nope', turn: 0, label: 'joy' })).rejects.toMatchObject({ code: 'NOT_FOUND', param: 'dialogue' });
    await expect(service.relabel({ dialogue: 'new-1', turn: 7, label: 'joy' })).rejects.toMatchObject({ code: 'NOT_FOUND', param: 'turn' });
    await expect(service.removeDialogue({ dialogue: 'nope' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(service.writeSeq('sample')).toBe(seq);
  });

  it('a relabelled row answers with its new label at once, in topk and per-label', async () => {
    const { index } = service.index();
    const s01 = index.dialogueRows('train/s01');
    const turn0 = index.rows[s01[0]];
    expect(turn0.labels).toEqual(['anger']);
    const result = await service.relabel({ dialogue: 'train/s01', turn: 0, label: 'fear' });
    expect(result).toMatchObject({ id: turn0.id, labels: ['fear'] });
    const topk = await service.demonstrations({ utterance: turn0.text, k: 1 });
    expect(topk.demonstrations[0]).toMatchObject({ id: turn0.id, label: 'fear' });
    const asFear = await service.demonstrations({ utterance: turn0.text, strategy: 'per-label', k: 1, labels: ['fear'] });
    expect(asFear.demonstrations[0].id).toBe(turn0.id);
    const asAnger = await service.demonstrations({ utterance: turn0.text, strategy: 'per-label', k: 5, labels: ['anger'] });
    expect(asAnger.demonstrations.map((d) => d.id)).not.toContain(turn0.id);
  });

  it('a removed dialogue is never returned again, by any strategy', async () => {
    const { index } = service.index();
    const s02 = [...index.dialogueRows('train/s02')];
    const text = index.rows[s02[0]].text;
    expect(await service.removeDialogue({ dialogue: 'train/s02' })).toMatchObject({ removed: s02.length });
    for (const strategy of ['topk', 'per-label', 'mmr'] as const) {
      const answer = await service.demonstrations({ utterance: text, strategy, k: 10 });
      expect(answer.demonstrations.filter((d) => d.dialogue === 'train/s02'), strategy).toEqual([]);
    }
    expect(index.dialogueRows('train/s02')).toEqual([]);
  });

  it('a service opened later on the folder replays the log: same rows, same answers', async () => {
    const again = await DemoService.load([out]);
    try {
      const a = service.index().index;
      const b = again.index().index;
      expect(b.rows).toEqual(a.rows);
      expect(again.writeSeq('sample')).toBe(service.writeSeq('sample'));
      for (const utterance of ['The volcano erupted right over our picnic blanket!', 'Where were you last night?', 'I got the job!']) {
        const x = await service.demonstrations({ utterance, strategy: 'per-label', k: 2 });
        const y = await again.demonstrations({ utterance, strategy: 'per-label', k: 2 });
        expect(y.demonstrations).toEqual(x.demonstrations);
      }
    } finally {
      await again.close();
    }
  });

  it('two services on one folder: a write through one shows on the other after refreshWrites; both serialised', async () => {
    const other = await DemoService.load([out]);
    try {
      await service.addDialogues({ dialogues: [{ id: 'from-a', turns: [{ speaker: 'a', text: 'The penguins escaped from the zoo again.', label: 'surprise' }] }] });
      await other.addDialogues({ dialogues: [{ id: 'from-b', turns: [{ speaker: 'b', text: 'Our neighbour paints his house purple every spring.', label: 'neutral' }] }] });
      // `other` applied a's write under the lock before its own; `service` sees b's after a refresh.
      expect(other.index().index.dialogueRows('from-a')).toHaveLength(1);
      expect(service.index().index.dialogueRows('from-b')).toEqual([]);
      expect(service.refreshWrites()).toEqual([]);
      expect(service.index().index.rows).toEqual(other.index().index.rows);
      await expect(other.addDialogues({ dialogues: [{ id: 'from-a', turns: [{ speaker: 'b', text: 'again', label: 'joy' }] }] })).rejects.toMatchObject({ code: 'DIALOGUE_EXISTS' });
    } finally {
      await other.close();
    }
  });
});


describe('live writes keep the leakage rules on a cross-fitted index', () => {
  const dir = tempDir();
  const out = join(dir, 'sample-lda');
  let embedder: Embedder;
  let service: DemoService;
  const written = {
    id: 'fresh-7',
    turns: [
      { speaker: 'Ida', text: 'They cancelled the concert an hour before it started.', label: 'sadness' },
      { speaker: 'Jon', text: 'Unbelievable, we drove four hours for this!', label: 'anger' },
      { speaker: 'Ida', text: 'At least the pizza place is still open.', label: 'neutral' },
    ],
  };

  beforeAll(async () => {
    embedder = await createEmbedder('use-lite');
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out, name: 'sample', projection: { kind: 'lda', shrinkage: 0.1, blend: 0.4 } });
    service = await DemoService.load([out]);
    await service.addDialogues({ dialogues: [written] });
  });
  afterAll(async () => {
    await service?.close();
    await embedder?.close?.();
  });

  it("a written dialogue gets its fold from its id: its utterances are searched in the space fitted without that fold", async () => {
    const { index } = service.index();
    expect(index.crossFitted).toBe(true);
    const manifest = index.manifest;
    const fold = foldOfWritten('fresh-7', manifest.cross_fit!.folds, manifest.cross_fit!.seed);
    expect(index.writtenState.folds.get('fresh-7')).toBe(fold);
    const own = index.space('fresh-7');
    expect(own).not.toBe(index);
    const raw = (await embedder.embed([written.turns[1].text]))[0];
    // The fold's projection, not the index's: the query lands elsewhere.
    expect(Array.from(own.queryVector(raw))).not.toEqual(Array.from(index.queryVector(raw)));
    // Its own rows' vectors in that space are what the fold's projection makes of their embeddings.
    const row = index.dialogueRows('fresh-7')[1];
    const stored = own.vector(row);
    const expected = own.queryVector(raw);
    for (let i = 0; i < stored.length; i++) expect(stored[i]).toBeCloseTo(expected[i], 5);
    // The same dialogue id as a query's `dialogue`: searched in its fold's space, its own turns left out.
    const answer = await service.demonstrations({ utterance: written.turns[1].text, dialogue: 'fresh-7', k: 5 });
    expect(answer.demonstrations.map((d) => d.dialogue)).not.toContain('fresh-7');
    const exact = retrieveExact(own, own.queryVector(raw), { k: 5, strategy: 'topk', excludeDialogues: ['fresh-7'] });
    expect(answer.demonstrations.map((d) => d.id)).toEqual(exact.map((d) => d.id));
    // Without it, the utterance finds itself (the written row is in the index's own space).
    const open = await service.demonstrations({ utterance: written.turns[1].text, k: 1 });
    expect(open.demonstrations[0]).toMatchObject({ dialogue: 'fresh-7', turn: 1 });
  });

  it('a prompt for the written dialogue never shows its own turns', async () => {
    const prompt = await service.prompt({ format: 'instructerc', dialogue: { id: 'fresh-7', corpus: 'sample', turns: written.turns }, target: 1, options: { k: 4 } });
    expect(prompt.demonstrations).toHaveLength(4);
    expect(prompt.demonstrations.map((d) => d.dialogue)).not.toContain('fresh-7');
  });
});

describe('a write log that cannot be written', () => {
  it('is WRITE_FAILED naming what SQLite said; nothing is written and the index keeps answering', async () => {
    const dir = tempDir();
    const out = join(dir, 'idx');
    const embedder = await createEmbedder('use-lite');
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues.slice(0, 5), corpus: 'sample', splits: ['train'], embedder, out, name: 'sample' });
    await embedder.close?.();
    const service = await DemoService.load([out]);
    // Where the log would go now stands a directory: SQLite cannot open it (as a read-only or full volume would refuse it).
    mkdirSync(join(out, writeLogFile(builtIdentity(out))));
    try {
      await expect(service.addDialogues({ dialogues: [{ id: 'x', turns: [{ speaker: 'a', text: 'hello there', label: 'joy' }] }] }))
        .rejects.toMatchObject({ code: 'WRITE_FAILED', message: expect.stringMatching(/write log could not be written \(SQLITE_CANTOPEN.*nothing was written/) });
      await expect(service.removeDialogue({ dialogue: sample.dialogues[0].id })).rejects.toMatchObject({ code: 'WRITE_FAILED' });
      expect(service.index().index.dialogueRows('x')).toEqual([]);
      expect(service.index().index.dialogueRows(sample.dialogues[0].id)).toHaveLength(4);
      expect((await service.demonstrations({ utterance: 'hello there', k: 2 })).demonstrations).toHaveLength(2);
    } finally {
      await service.close();
    }
  });
});
