import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toInstructercLabel, toUnifiedLabel } from '../src/corpus/labels.js';
import { loadCorpus } from '../src/corpus/load.js';
import { CorpusFormatError } from '../src/corpus/types.js';
import { HAVE_SHARED, SHARED_DATA, SHARED_SKIP_REASON, tempDir, utteranceCount } from './helpers.js';

function labelCounts(dialogues: ReturnType<typeof loadCorpus>['dialogues']): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const d of dialogues) for (const t of d.turns) counts[t.labels[0]] = (counts[t.labels[0]] ?? 0) + 1;
  return counts;
}

describe.skipIf(!HAVE_SHARED)(`loaders on the real MELD and EmoryNLP files (${HAVE_SHARED ? 'shared data found' : SHARED_SKIP_REASON})`, () => {
  it('loads MELD splits with the counts SOURCE.md gives', () => {
    const expected = { train: [9989, 1038], dev: [1109, 114], test: [2610, 280] } as const;
    for (const [split, [utterances, dialogues]] of Object.entries(expected)) {
      const corpus = loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: [split] });
      expect(utteranceCount(corpus.dialogues)).toBe(utterances);
      expect(corpus.dialogues.length).toBe(dialogues);
      expect(corpus.skipped).toEqual([]);
    }
    const train = loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: ['train'] });
    expect(labelCounts(train.dialogues)).toEqual({
      neutral: 4710, joy: 1743, surprise: 1205, anger: 1109, sadness: 683, disgust: 271, fear: 268,
    });
  });

  it('keeps MELD turn order, speakers, ids and odd characters', () => {
    const test = loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: ['test'] });
    const first = test.dialogues[0];
    expect(first.id).toBe('test/0');
    expect(first.split).toBe('test');
    expect(first.turns[0]).toMatchObject({
      index: 0, speaker: 'Mark', text: 'Why do all you’re coffee mugs have numbers on the bottom?', labels: ['surprise'], sourceId: '0_0',
    });
    for (const d of test.dialogues) d.turns.forEach((t, i) => expect(t.index).toBe(i));
    // Utterance ids inside a dialogue are increasing after load.
    for (const d of test.dialogues) {
      const ids = d.turns.map((t) => Number(t.sourceId!.split('_')[1]));
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    }
  });

  it('loads EmoryNLP with the counts SOURCE.md gives, parsing list-literal speakers', () => {
    const expected = { train: [7551, 659], dev: [954, 89], test: [984, 79] } as const;
    for (const [split, [utterances, dialogues]] of Object.entries(expected)) {
      const corpus = loadCorpus({ format: 'emorynlp', data: join(SHARED_DATA, 'emorynlp'), splits: [split] });
      expect(utteranceCount(corpus.dialogues)).toBe(utterances);
      expect(corpus.dialogues.length).toBe(dialogues);
    }
    const test = loadCorpus({ format: 'emorynlp', data: join(SHARED_DATA, 'emorynlp'), splits: ['test'] });
    expect(labelCounts(test.dialogues)).toEqual({
      Neutral: 288, Joyful: 217, Scared: 116, Peaceful: 111, Powerful: 96, Mad: 86, Sad: 70,
    });
    const speakers = new Set(test.dialogues.flatMap((d) => d.turns.map((t) => t.speaker)));
    expect(speakers.has('Ross Geller')).toBe(true);
    expect([...speakers].some((s) => s.includes('[') || s.includes("'"))).toBe(false);
  });
});

describe('loaders on malformed files', () => {
  const dir = tempDir();
  const header = 'Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n';

  it('names file and line of an unknown MELD emotion', () => {
    const file = join(dir, 'train_sent_emo.csv');
    writeFileSync(file, `${header}1,Hi.,A,neutral,neutral,0,0,1,1,a,b\n2,"Hello, you.",B,happy,positive,0,1,1,1,a,b\n`);
    expect(() => loadCorpus({ format: 'meld', data: dir, splits: ['train'] })).toThrow(
      new CorpusFormatError(file, 3, 'unknown MELD emotion "happy" (expected one of neutral, surprise, fear, sadness, joy, disgust, anger)'),
    );
  });

  it('names a missing column, a bad id and a repeated utterance', () => {
    const file = join(dir, 'dev_sent_emo.csv');
    writeFileSync(file, 'Utterance,Speaker,Emotion\nHi.,A,neutral\n');
    expect(() => loadCorpus({ format: 'meld', data: dir, splits: ['dev'] })).toThrow(/dev_sent_emo\.csv:1: missing column "Dialogue_ID"/);
    writeFileSync(file, `${header}1,Hi.,A,neutral,neutral,x,0,1,1,a,b\n`);
    expect(() => loadCorpus({ format: 'meld', data: dir, splits: ['dev'] })).toThrow(/dev_sent_emo\.csv:2: column "Dialogue_ID" must be a non-negative integer, got "x"/);
    writeFileSync(file, `${header}1,Hi.,A,neutral,neutral,0,0,1,1,a,b\n2,Yo.,B,neutral,neutral,0,0,1,1,a,b\n`);
    expect(() => loadCorpus({ format: 'meld', data: dir, splits: ['dev'] })).toThrow(/dev_sent_emo\.csv:3: dialogue dev\/0 has utterance number 0 twice \(also on line 2\)/);
  });

  it('counts and reports skipped empty utterances instead of dropping them silently', () => {
    const file = join(dir, 'test_sent_emo.csv');
    writeFileSync(file, `${header}1,Hi.,A,neutral,neutral,0,0,1,1,a,b\n2,"  ",B,neutral,neutral,0,1,1,1,a,b\n3,Bye.,A,sadness,negative,0,2,1,1,a,b\n`);
    const corpus = loadCorpus({ format: 'meld', data: dir, splits: ['test'] });
    expect(corpus.skipped).toEqual([{ file, line: 3, reason: 'empty Utterance' }]);
    expect(corpus.dialogues[0].turns.map((t) => [t.index, t.text])).toEqual([[0, 'Hi.'], [1, 'Bye.']]);
  });

  it('reports a missing data path', () => {
    expect(() => loadCorpus({ format: 'meld', data: join(dir, 'nope'), splits: ['train'] })).toThrow(/data path not found: .*nope/);
  });
});

describe('generic JSONL corpora (IEMOCAP-style)', () => {
  const dir = tempDir();

  it('loads dialogues, splits, single and multi labels; IEMOCAP codes are checked against its scheme', () => {
    const file = join(dir, 'iemocap.jsonl');
    writeFileSync(file, [
      JSON.stringify({ id: 'Ses01F_impro01', split: 'train', turns: [{ speaker: 'M', text: 'Excuse me.', label: 'neu' }, { speaker: 'F', text: 'Do you have your forms?', label: 'fru' }] }),
      '',
      JSON.stringify({ id: 'Ses05F_impro01', split: 'test', turns: [{ speaker: 'F', text: 'Hi.', label: 'hap' }] }),
    ].join('\n'));
    const train = loadCorpus({ format: 'jsonl', data: file, splits: ['train'], name: 'iemocap' });
    expect(train.corpus).toBe('iemocap');
    expect(train.dialogues).toEqual([{
      id: 'train/Ses01F_impro01', corpus: 'iemocap', split: 'train',
      turns: [
        { index: 0, speaker: 'M', text: 'Excuse me.', labels: ['neu'] },
        { index: 1, speaker: 'F', text: 'Do you have your forms?', labels: ['fru'] },
      ],
    }]);
    expect(loadCorpus({ format: 'jsonl', data: file, splits: ['test'], name: 'iemocap' }).dialogues[0].turns[0].labels).toEqual(['hap']);
    expect(toInstructercLabel('iemocap', 'fru')).toBe('frustrated');
    expect(toUnifiedLabel('iemocap', 'fru')).toBe('mad');
  });

  it('names file, line and field of bad lines', () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, `${JSON.stringify({ id: 'a', turns: [{ speaker: 'A', text: 'ok' }] })}\n{"id": "b", "turns": [}\n`);
    expect(() => loadCorpus({ format: 'jsonl', data: file, splits: ['train'] })).toThrow(/bad\.jsonl:2: not valid JSON/);
    writeFileSync(file, `${JSON.stringify({ id: 'a', turns: [{ text: 'ok' }] })}\n`);
    expect(() => loadCorpus({ format: 'jsonl', data: file, splits: ['train'] })).toThrow(/bad\.jsonl:1: turns\.0\.speaker/);
    writeFileSync(file, `${JSON.stringify({ id: 'a', turns: [{ speaker: 'A', text: 'ok', label: 'joyous' }] })}\n`);
    expect(() => loadCorpus({ format: 'jsonl', data: file, splits: ['train'], name: 'iemocap' })).toThrow(/bad\.jsonl:1: turns\.0\.label: "joyous" is not a iemocap label/);
    writeFileSync(file, `${JSON.stringify({ id: 'a', turns: [{ speaker: 'A', text: 'ok' }] })}\n${JSON.stringify({ id: 'a', turns: [{ speaker: 'A', text: 'ok' }] })}\n`);
    expect(() => loadCorpus({ format: 'jsonl', data: file, splits: ['train'] })).toThrow(/bad\.jsonl:2: dialogue id "a" repeats line 1/);
  });
});
