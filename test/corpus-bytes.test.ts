import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCorpus, type CorpusFormat } from '../src/corpus/load.js';
import { firstInvalidUtf8 } from '../src/corpus/text.js';
import { CorpusFormatError } from '../src/corpus/types.js';
import { TransformersEmbedder } from '../src/embed/transformers.js';
import { createEmbedder } from '../src/embed/create.js';
import { cliAsync, tempDir } from './helpers.js';

const dir = tempDir('erc-demos-bytes-');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** "@@" in a file's text becomes "caf" + 0xE9: café as Latin-1 writes it, invalid UTF-8. */
const LATIN1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]);

interface Case {
  format: CorpusFormat;
  /** File name -> lines; the file named `bad` gets the invalid byte at its "@@" (line 3 unless said). */
  files: Record<string, string[]>;
  bad: string;
  badLine?: number;
}

const SEMEVAL_LABELS = ['anger', 'anticipation', 'disgust', 'fear', 'joy', 'love', 'optimism', 'pessimism', 'sadness', 'surprise', 'trust'];
const CASES: Case[] = [
  {
    format: 'meld', bad: 'train_sent_emo.csv', files: {
      'train_sent_emo.csv': [
        'Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime',
        '1,Oh my God!,Ross,surprise,positive,0,0,1,1,"00:00:01,000","00:00:02,000"',
        '2,"A latte at the @@, please.",Rachel,neutral,neutral,0,1,1,1,"00:00:03,000","00:00:04,000"',
        '3,I hate this.,Monica,anger,negative,1,0,1,1,"00:00:05,000","00:00:06,000"',
      ],
    },
  },
  {
    format: 'emorynlp', bad: 'emorynlp_train_final.csv', files: {
      'emorynlp_train_final.csv': [
        'Utterance,Speaker,Emotion,Scene_ID,Utterance_ID,Season,Episode,Start_Time,End_Time',
        '"What you guys don\'t understand is...",[\'Monica Geller\'],Joyful,1,1,1,2,00:00:02.877,00:00:07.548',
        '"Meet me at the @@.",[\'Joey Tribbiani\'],Neutral,1,2,1,2,00:00:08.000,00:00:09.000',
        'Fine.,[\'Ross Geller\'],Mad,2,1,1,2,00:00:10.000,00:00:11.000',
      ],
    },
  },
  {
    format: 'jsonl', bad: 'train.jsonl', files: {
      'train.jsonl': [
        '{"id": "d1", "turns": [{"speaker": "A", "text": "Hello there.", "label": "joy"}]}',
        '{"id": "d2", "turns": [{"speaker": "B", "text": "Go away.", "label": "anger"}]}',
        '{"id": "d3", "turns": [{"speaker": "A", "text": "The @@ is closed.", "label": "sadness"}]}',
      ],
    },
  },
  {
    format: 'semeval-ec', bad: '2018-E-c-En-train.txt', files: {
      '2018-E-c-En-train.txt': [
        ['ID', 'Tweet', ...SEMEVAL_LABELS].join('\t'),
        ['2017-En-1', 'So happy today #joy', ...SEMEVAL_LABELS.map((l) => (l === 'joy' ? '1' : '0'))].join('\t'),
        ['2017-En-2', 'Coffee at the @@ again', ...SEMEVAL_LABELS.map((l) => (l === 'anticipation' ? '1' : '0'))].join('\t'),
      ],
    },
  },
  {
    format: 'wassa-t2', bad: 'trac2_CONVT_train.csv', files: {
      'trac2_CONVT_train.csv': [
        'id,article_id,conversation_id,turn_id,"speaker","text","person_id_1","person_id_2",Emotion,EmotionalPolarity,Empathy,SelfDisclosure',
        '0,35,1,0,"Person 1","what did you think about this article","p019","p012",0.6667,1,0.6667,1',
        '1,35,1,1,"Person 2","it was sad, like a @@ closing","p019","p012",2,1,3,1',
      ],
    },
  },
  {
    format: 'wassa-t3', bad: 'trac3_EMP_train.csv', files: {
      'trac3_EMP_train.csv': [
        'conversation_id,article_id,"person_id","person_essay",person_empathy,person_distress',
        '1,35,"p019","How sad is it that this still happens.",5,4',
        '1,35,"p012","I read it at the @@ and felt for them.",6,2',
      ],
    },
  },
  {
    format: 'wassa-t1', bad: 'trac1_CONVD_train.csv', badLine: 2, files: {
      'trac2_CONVT_train.csv': [
        'id,article_id,conversation_id,turn_id,"speaker","text","person_id_1","person_id_2",Emotion,EmotionalPolarity,Empathy,SelfDisclosure',
        '0,35,1,0,"Person 1","what did you think about this article","p019","p012",0.6667,1,0.6667,1',
        '1,35,1,1,"Person 2","it was sad","p019","p012",2,1,3,1',
      ],
      'trac1_CONVD_train.csv': [
        'id,conversation_id,article_id,"person_id_1",this_persons_perceived_empathy_of_other_person,note',
        '1,1,35,"p019",6,"met at the @@"',
      ],
    },
  },
];

/** Writes a case's files into a fresh folder: clean, with a BOM on every file, or with the invalid byte. */
function writeCase(c: Case, variant: 'clean' | 'bom' | 'bad'): string {
  const folder = join(dir, `${c.format}-${variant}`);
  mkdirSync(folder, { recursive: true });
  for (const [name, lines] of Object.entries(c.files)) {
    const text = `${lines.join('\n')}\n`;
    const body = variant === 'bad' && name === c.bad
      ? Buffer.concat(text.split('@@').flatMap((part, i) => (i === 0 ? [Buffer.from(part)] : [LATIN1, Buffer.from(part)])))
      : Buffer.from(text.replaceAll('@@', 'café'));
    writeFileSync(join(folder, name), variant === 'bom' ? Buffer.concat([BOM, body]) : body);
  }
  return c.format === 'jsonl' ? join(folder, 'train.jsonl') : folder;
}

const load = (format: CorpusFormat, data: string) => loadCorpus({ format, data, splits: ['train'] });

describe('corpus bytes: a leading BOM is accepted, invalid UTF-8 is an error naming file, line and column', () => {
  for (const c of CASES) {
    it(`${c.format}: the same dialogues with a BOM; "caf\\xE9" (Latin-1) refused with file:line`, () => {
      const clean = load(c.format, writeCase(c, 'clean'));
      expect(clean.dialogues.length).toBeGreaterThan(0);
      const withBom = load(c.format, writeCase(c, 'bom'));
      expect(withBom.dialogues).toEqual(clean.dialogues.map((d) => ({ ...d })));
      expect(withBom.skipped).toEqual([]);
      expect(JSON.stringify(withBom.dialogues)).not.toContain('\ufeff');
      const badData = writeCase(c, 'bad');
      const file = c.format === 'jsonl' ? badData : join(badData, c.bad);
      const line = c.badLine ?? 3;
      const column = c.files[c.bad][line - 1].indexOf('@@') + 4;
      let error: unknown;
      try {
        load(c.format, badData);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CorpusFormatError);
      expect((error as Error).message).toContain(`${file}:${line}: invalid UTF-8 at column ${column} (byte offset ${readFileSync(file).indexOf(0xe9)}: 0xe9`);
      expect((error as Error).message).toContain('the file must be UTF-8: convert it (e.g. iconv -f windows-1252 -t utf-8)');
    });
  }

  it('finds the first invalid sequence by WHATWG\'s rules (overlong, surrogate, above U+10FFFF, truncated, stray continuation)', () => {
    const at = (...bytes: number[]) => firstInvalidUtf8(Uint8Array.from(bytes));
    expect(at(0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80)).toBe(-1); // a é € 😀
    expect(at(0x61, 0xc0, 0xaf)).toBe(1); // overlong '/'
    expect(at(0xe0, 0x80, 0xaf)).toBe(0); // overlong
    expect(at(0x61, 0x62, 0xed, 0xa0, 0x80)).toBe(2); // a surrogate
    expect(at(0xf4, 0x90, 0x80, 0x80)).toBe(0); // above U+10FFFF
    expect(at(0x61, 0xe2, 0x82)).toBe(1); // truncated at the end
    expect(at(0x61, 0x80)).toBe(1); // a continuation byte alone
    expect(at(0xff)).toBe(0);
  });

  it('the CLI: build of a JSONL corpus with a BOM succeeds; with an invalid byte it exits 1 naming file:line, before embedding', async () => {
    const jsonl = CASES.find((c) => c.format === 'jsonl')!;
    const good = await cliAsync(['build', '--corpus', 'jsonl', '--data', writeCase(jsonl, 'bom'), '--projection', 'none', '--out', join(dir, 'bom-index')]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stderr).toContain('3 dialogues, 3 utterances');
    const bad = await cliAsync(['build', '--corpus', 'jsonl', '--data', writeCase(jsonl, 'bad'), '--projection', 'none', '--out', join(dir, 'bad-index')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${join(dir, 'jsonl-bad', 'train.jsonl')}:3: invalid UTF-8 at column`);
    expect(bad.stderr).not.toContain('embedding');
  }, 120_000);
});

describe('a model folder\'s tokenizer.json that does not load names the file', () => {
  const FIXTURE = resolve(__dirname, 'fixtures', 'st', 'mean-plain');

  it('invalid JSON, not a tokenizer, and (accepted) a leading BOM, in the thread and through the worker pool', async () => {
    const broken = join(dir, 'broken-tokenizer');
    cpSync(FIXTURE, broken, { recursive: true });
    const text = readFileSync(join(FIXTURE, 'tokenizer.json'), 'utf8');
    writeFileSync(join(broken, 'tokenizer.json'), text.slice(0, text.length / 2));
    const message = new RegExp(`model folder ${broken}: tokenizer\\.json is not valid JSON`);
    await expect(TransformersEmbedder.load({ model: broken })).rejects.toThrow(message);
    await expect(createEmbedder(`transformers:${broken}`)).rejects.toThrow(message);
    writeFileSync(join(broken, 'tokenizer.json'), JSON.stringify({ model: { type: 'NoSuchModel' } }));
    await expect(TransformersEmbedder.load({ model: broken })).rejects.toThrow(new RegExp(`model folder ${broken}: tokenizer\\.json .*is not a tokenizer that loads`));
    writeFileSync(join(broken, 'tokenizer.json'), Buffer.concat([BOM, Buffer.from(text)]));
    const reference = await TransformersEmbedder.load({ model: FIXTURE });
    const withBom = await TransformersEmbedder.load({ model: broken });
    const [a] = await reference.embed(['Oh my God!']);
    const [b] = await withBom.embed(['Oh my God!']);
    expect(Array.from(b)).toEqual(Array.from(a));
    await reference.close();
    await withBom.close();
  }, 60_000);
});
