import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus, splitOfFile } from '../src/corpus/load.js';
import { loadSources } from '../src/corpus/sources.js';
import { createEmbedder } from '../src/embed/create.js';
import type { Embedder } from '../src/embed/types.js';
import { evaluateRetrieval } from '../src/eval/evaluate.js';
import { buildIndex } from '../src/index/build.js';
import { DemoIndex } from '../src/index/open.js';
import { FORMATS } from '../src/prompt/formats.js';
import { buildPrompts, jobsOf } from '../src/service/prompts.js';
import { cliAsync, tempDir } from './helpers.js';

/**
 * Issue 23, item 5: a corpus file given with another split was silently relabelled (`--data dev_sent_emo.csv --split
 * train` indexed the dev dialogues as train/N), and an eval or export of dev then found each target itself.
 */
const HEADER = 'Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n';
const EMOTIONS = ['joy', 'anger', 'sadness', 'neutral', 'fear', 'surprise', 'disgust'];
const WORDS = ['coffee', 'rent', 'wedding', 'exam', 'spider', 'train', 'guitar', 'dinner', 'phone', 'holiday', 'garden', 'boss'];

/** A MELD-shaped file: `dialogues` dialogues of 4 turns, every utterance its own sentence. */
function meldCsv(dialogues: number, offset = 0): string {
  const rows: string[] = [];
  let n = 1;
  for (let d = 0; d < dialogues; d++) {
    for (let u = 0; u < 4; u++) {
      const w = WORDS[(d + offset) % WORDS.length];
      const text = `"Dialogue ${d + offset}, line ${u}: the ${w} is ${['fine', 'late', 'gone', 'here'][u]}, ${WORDS[(d + u + offset) % WORDS.length]} again."`;
      rows.push(`${n++},${text},${u % 2 ? 'Ross' : 'Rachel'},${EMOTIONS[(d + u) % EMOTIONS.length]},neutral,${d},${u},1,1,a,b`);
    }
  }
  return HEADER + rows.join('\n') + '\n';
}

describe('a corpus file whose name says its split', () => {
  const dir = tempDir();
  const dev = join(dir, 'dev_sent_emo.csv');

  beforeAll(() => {
    writeFileSync(dev, meldCsv(3));
    writeFileSync(join(dir, 'emorynlp_dev_final.csv'), 'Speaker,Utterance,Emotion,Scene_ID,Utterance_ID,Season,Episode\n"[\'Monica\']",Hi.,Joyful,1,1,1,1\n');
    writeFileSync(join(dir, '2018-E-c-En-test-gold.txt'), 'ID\tTweet\tanger\tanticipation\tdisgust\tfear\tjoy\tlove\toptimism\tpessimism\tsadness\tsurprise\ttrust\n1\thi\t0\t0\t0\t0\t1\t0\t0\t0\t0\t0\t0\n');
    writeFileSync(join(dir, 'dev.jsonl'), '{"id": 1, "turns": [{"speaker": "A", "text": "Hi.", "label": "joy"}]}\n');
  });

  it('knows the split each loader\'s own file names say', () => {
    expect(splitOfFile('meld', '/x/train_sent_emo.csv')).toBe('train');
    expect(splitOfFile('meld', dev)).toBe('dev');
    expect(splitOfFile('meld', '/x/my-meld.csv')).toBeUndefined();
    expect(splitOfFile('emorynlp', '/x/emorynlp_test_final.csv')).toBe('test');
    expect(splitOfFile('semeval-ec', '/x/2018-E-c-En-test-gold.txt')).toBe('test');
    expect(splitOfFile('jsonl', '/x/dev.jsonl')).toBe('dev');
    expect(splitOfFile('jsonl', '/x/iemocap.jsonl')).toBeUndefined();
  });

  it('refuses it as another split, naming both, and says how to load it either way', () => {
    const refusal = /dev_sent_emo\.csv is the dev split \(its file name says so\) but --split train was asked for: .*train\/<id>.*Give --split dev .*--relabel-split/;
    expect(() => loadCorpus({ format: 'meld', data: dev, splits: ['train'] })).toThrow(refusal);
    // The same through --source, as build, prompts and eval load.
    expect(() => loadSources([{ format: 'meld', data: dev }], { splits: ['train'] })).toThrow(refusal);
    expect(() => loadCorpus({ format: 'emorynlp', data: join(dir, 'emorynlp_dev_final.csv'), splits: ['test'] })).toThrow(/emorynlp_dev_final\.csv is the dev split .* --split test was asked for/);
    expect(() => loadCorpus({ format: 'semeval-ec', data: join(dir, '2018-E-c-En-test-gold.txt'), splits: ['dev'] })).toThrow(/is the test split .* --split dev/);
    // A JSONL line without "split" defaults to train: a file named dev.jsonl would have been indexed as train.
    expect(() => loadCorpus({ format: 'jsonl', data: join(dir, 'dev.jsonl'), splits: ['train'] })).toThrow(/dev\.jsonl is the dev split .* --split train/);
  });

  it('through the CLI: build refuses it, exit 2 and no index; --relabel-split builds it as train on purpose', async () => {
    const refused = await cliAsync(['build', '--corpus', 'meld', '--data', dev, '--split', 'train', '--projection', 'none', '--out', join(dir, 'refused')]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/dev_sent_emo\.csv is the dev split .*--relabel-split/);
    expect(existsSync(join(dir, 'refused'))).toBe(false);
    const built = await cliAsync(['build', '--corpus', 'meld', '--data', dev, '--split', 'train', '--relabel-split', '--projection', 'none', '--out', join(dir, 'relabelled')]);
    expect(built.code, built.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'relabelled', 'manifest.json'), 'utf8'))).toMatchObject({ splits: ['train'], count: 12 });
  });

  it('loads it as the split it says, as another on purpose (relabelSplit), and any file whose name says none as asked', () => {
    expect(loadCorpus({ format: 'meld', data: dev, splits: ['dev'] }).dialogues.map((d) => d.id)).toEqual(['dev/0', 'dev/1', 'dev/2']);
    expect(loadCorpus({ format: 'meld', data: dev, splits: ['train'], relabelSplit: true }).dialogues.map((d) => d.id)).toEqual(['train/0', 'train/1', 'train/2']);
    expect(loadSources([{ format: 'meld', data: dev }], { splits: ['train'], relabelSplit: true }).dialogues[0].split).toBe('train');
    const renamed = join(dir, 'mine.csv');
    copyFileSync(dev, renamed);
    expect(loadCorpus({ format: 'meld', data: renamed, splits: ['train'] }).dialogues[0].id).toBe('train/0');
  });
});

describe('the leakage guard and a dialogue indexed under another split\'s name', () => {
  const dir = tempDir();
  const dev = join(dir, 'dev_sent_emo.csv');
  let embedder: Embedder;
  let index: DemoIndex;

  beforeAll(async () => {
    // Dev relabelled as train on purpose, beside real training dialogues: the index holds dev's dialogues as train/N.
    writeFileSync(dev, meldCsv(6));
    writeFileSync(join(dir, 'other.csv'), meldCsv(6, 100));
    const relabelled = loadCorpus({ format: 'meld', data: dev, splits: ['train'], relabelSplit: true }).dialogues;
    const train = loadCorpus({ format: 'meld', data: join(dir, 'other.csv'), splits: ['train'] }).dialogues.map((d) => ({ ...d, id: d.id.replace('train/', 'train/10') }));
    embedder = await createEmbedder('use-lite');
    await buildIndex({ dialogues: [...relabelled, ...train], corpus: 'meld', splits: ['train'], embedder, out: join(dir, 'idx'), projection: { kind: 'none' } });
    index = await DemoIndex.open(join(dir, 'idx'), { embedder });
  }, 120_000);
  afterAll(() => embedder?.close?.());

  it('an export of dev never gives a target its own dialogue\'s copy (nor itself) as a demonstration', async () => {
    const dialogues = loadCorpus({ format: 'meld', data: dev, splits: ['dev'] }).dialogues;
    const jobs = jobsOf(dialogues, FORMATS.get('instructerc')!);
    const built = await buildPrompts(index, embedder, FORMATS.get('instructerc')!, jobs, { k: 4, strategy: 'topk' });
    expect(built.length).toBe(24);
    built.forEach((p, i) => {
      const copy = jobs[i].dialogueId!.replace('dev/', 'train/');
      expect(p.demonstrations.length).toBe(4);
      for (const d of p.demonstrations) {
        expect(d.dialogue).not.toBe(copy);
        expect(d.text).not.toBe(jobs[i].turns[jobs[i].target].text);
      }
    });
  });

  it('eval of dev leaves each copy out of its own neighbours and counts its targets as indexed', async () => {
    const dialogues = loadCorpus({ format: 'meld', data: dev, splits: ['dev'] }).dialogues;
    const result = await evaluateRetrieval(index, embedder, dialogues, { k: 3, search: 'exact' });
    expect(result.n).toBe(24);
    expect(result.indexed_targets).toBe(24);
    // Before, each target found itself (score 1) first: every prediction its own gold label.
    expect(result.knn_weighted_f1).toBeLessThan(100);
  });
});
