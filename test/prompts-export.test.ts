import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import type { Dialogue } from '../src/corpus/types.js';
import { createEmbedder } from '../src/embed/create.js';
import type { Embedder } from '../src/embed/types.js';
import { buildIndex } from '../src/index/build.js';
import { DemoIndex } from '../src/index/open.js';
import { FORMATS } from '../src/prompt/formats.js';
import { track2Levels, track3Levels } from '../src/prompt/wassa.js';
import { exportPrompts } from '../src/service/export.js';
import { HAVE_SHARED, SHARED_DATA, SHARED_SKIP_REASON, tempDir } from './helpers.js';

interface Line { id: string; input: string; target: string | null; demonstrations: number[] }
const readLines = (file: string): Line[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);

describe.skipIf(!HAVE_SHARED)(`prompt export on the real MELD files (${HAVE_SHARED ? 'shared data found' : SHARED_SKIP_REASON})`, () => {
  const dir = tempDir();
  const indexDir = join(dir, 'meld');
  let embedder: Embedder;
  let index: DemoIndex;
  let train: Dialogue[];
  let test: Dialogue[];

  beforeAll(async () => {
    embedder = await createEmbedder();
    const meld = join(SHARED_DATA, 'meld');
    train = loadCorpus({ format: 'meld', data: meld, splits: ['train'] }).dialogues.slice(0, 50);
    const dev = loadCorpus({ format: 'meld', data: meld, splits: ['dev'] }).dialogues.slice(0, 10);
    test = loadCorpus({ format: 'meld', data: meld, splits: ['test'] }).dialogues.slice(0, 12);
    // The index holds train and dev, so the "never from the evaluation split" rule has something to refuse.
    await buildIndex({ dialogues: [...train, ...dev], corpus: 'meld', splits: ['train', 'dev'], embedder, out: indexDir });
    index = await DemoIndex.open(indexDir, { embedder });
  });

  it('test split: one line per turn, the fixed strings byte for byte, no demonstration from dev', async () => {
    const out = join(dir, 'test.jsonl');
    const summary = await exportPrompts({ index, embedder, format: FORMATS.get('instructerc')!, dialogues: test, out, options: { k: 4, strategy: 'topk' } });
    const lines = readLines(out);
    const turns = test.reduce((n, d) => n + d.turns.length, 0);
    expect(summary.prompts).toBe(turns);
    expect(lines).toHaveLength(turns);
    for (const line of lines) {
      expect(line.input.startsWith('Now you are expert of sentiment and emotional analysis. ')).toBe(true);
      expect(line.input.endsWith('from <neutral, surprise, fear, sad, joyful, disgust, angry>:')).toBe(true);
      expect(['neutral', 'surprise', 'fear', 'sad', 'joyful', 'disgust', 'angry']).toContain(line.target);
      expect(line.demonstrations).toHaveLength(4);
      for (const id of line.demonstrations) expect(index.rows[id].split).toBe('train');
    }
    expect(lines[0].id).toBe('meld/test/0/0');
  });

  it('training split: never the target itself nor its dialogue; eval split only when asked', async () => {
    const out = join(dir, 'train.jsonl');
    await exportPrompts({ index, embedder, format: FORMATS.get('instructerc')!, dialogues: train, out, options: { k: 6, strategy: 'topk' } });
    const lines = readLines(out);
    expect(lines).toHaveLength(train.reduce((n, d) => n + d.turns.length, 0));
    for (const line of lines) {
      const dialogue = line.id.split('/').slice(1, 3).join('/');
      for (const id of line.demonstrations) {
        expect(index.rows[id].dialogue).not.toBe(dialogue);
        expect(index.rows[id].split).toBe('train');
      }
    }
    const allowed = join(dir, 'allowed.jsonl');
    await exportPrompts({ index, embedder, format: FORMATS.get('instructerc')!, dialogues: test, out: allowed, options: { k: 10, strategy: 'topk', allowEvalSplits: true } });
    expect(readLines(allowed).some((l) => l.demonstrations.some((id) => index.rows[id].split === 'dev'))).toBe(true);
  });

  it('per-label demonstrations: one of each emotion per prompt', async () => {
    const out = join(dir, 'per-label.jsonl');
    await exportPrompts({ index, embedder, format: FORMATS.get('instructerc')!, dialogues: test.slice(0, 2), out, options: { k: 1, strategy: 'per-label' } });
    for (const line of readLines(out)) {
      expect(new Set(line.demonstrations.map((id) => index.rows[id].labels[0])).size).toBe(7);
    }
  });

  it('a failing export leaves no file and keeps an existing one intact', async () => {
    const out = join(dir, 'keep.jsonl');
    writeFileSync(out, 'previous export\n');
    let calls = 0;
    const failing: Embedder = { id: embedder.id, dim: embedder.dim, embed: async (t) => { if (++calls === 2) throw new Error('embedder died'); return embedder.embed(t); } };
    await expect(exportPrompts({ index, embedder: failing, format: FORMATS.get('instructerc')!, dialogues: test, out, options: { k: 2, strategy: 'topk' }, batchSize: 10 })).rejects.toThrow('embedder died');
    expect(readFileSync(out, 'utf8')).toBe('previous export\n');
    expect(existsSync(`${out}.tmp-${process.pid}`)).toBe(false);
  });
});

describe.skipIf(!HAVE_SHARED)(`WASSA 2024 and SemEval files (${HAVE_SHARED ? 'shared data found' : SHARED_SKIP_REASON})`, () => {
  const wassa = join(SHARED_DATA, 'wassa2024');

  it('track 2 scores map onto their levels on train and dev (dev has no self-disclosure)', () => {
    for (const split of ['train', 'dev']) {
      const corpus = loadCorpus({ format: 'wassa-t2', data: wassa, splits: [split] });
      const turns = corpus.dialogues.flatMap((d) => d.turns);
      expect(turns.length).toBe(split === 'train' ? 11166 : 990);
      for (const t of turns) {
        const levels = track2Levels(t.scores);
        for (const [key, max] of [['emotion_level', 15], ['empathy_level', 15], ['polarity_level', 9], ['self_disclosure_level', 9]] as const) {
          const v = levels[key];
          if (v !== null) expect(Number(v)).toBeGreaterThanOrEqual(0), expect(Number(v)).toBeLessThanOrEqual(max);
        }
        // On the grid of thirds the level is exact; the few means of two annotators (1.5) go to a neighbour.
        if (t.scores?.Emotion != null) expect(Math.abs(Number(levels.emotion_level) / 3 - t.scores.Emotion)).toBeLessThanOrEqual(1 / 6 + 1e-9);
      }
      const missing = turns.filter((t) => track2Levels(t.scores).self_disclosure_level === null).length;
      expect(missing).toBe(split === 'train' ? 2 : 990);
    }
    const train = loadCorpus({ format: 'wassa-t2', data: wassa, splits: ['train'] });
    expect(track2Levels(train.dialogues[0].turns[1].scores)).toEqual({ emotion_level: '9', empathy_level: '13', polarity_level: '6', self_disclosure_level: '3' });
  });

  it('track 3 essays map into 43 levels; track 1 makes one prompt per rating', () => {
    for (const split of ['train', 'dev']) {
      const corpus = loadCorpus({ format: 'wassa-t3', data: wassa, splits: [split] });
      for (const d of corpus.dialogues) {
        for (const v of Object.values(track3Levels(d.turns[0].scores))) expect(Number(v)).toBeGreaterThanOrEqual(0), expect(Number(v)).toBeLessThanOrEqual(42);
      }
    }
    const t1 = loadCorpus({ format: 'wassa-t1', data: wassa, splits: ['dev'] });
    expect(t1.dialogues.length).toBe(63);
    for (const d of t1.dialogues) expect(d.turns[d.targets![0]].scores?.perceived_empathy).toBeGreaterThanOrEqual(1);
    const train = loadCorpus({ format: 'wassa-t1', data: wassa, splits: ['train'] });
    expect(train.dialogues.length + train.skipped.length).toBe(1000);
    expect(train.skipped.every((s) => /has no turns|does not speak/.test(s.reason))).toBe(true);
  });

  it('SemEval E-c: label sets from the 0/1 columns', () => {
    const dev = loadCorpus({ format: 'semeval-ec', data: join(SHARED_DATA, 'semeval2018-ec'), splits: ['dev'] });
    expect(dev.dialogues).toHaveLength(886);
    expect(dev.dialogues[0].turns[0]).toMatchObject({ text: '@RanaAyyub @rajnathsingh Oh, hidden revenge and anger...I rememberthe time,she rebutted you.', labels: ['anger', 'disgust'] });
  });
});
