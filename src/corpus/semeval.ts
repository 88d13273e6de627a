import { basename, join } from 'node:path';
import { readCsv } from './csv.js';
import { labelScheme } from './labels.js';
import { CorpusFormatError } from '../errors.js';
import type { Dialogue, SkippedRow } from './types.js';

export function semevalFile(dataDir: string, split: string): string {
  return join(dataDir, `2018-E-c-En-${split}.txt`);
}

/** The split a file's name says it holds, as semevalFile names it (`2018-E-c-En-dev.txt`: dev; `-test-gold` too), or undefined. */
export function semevalFileSplit(file: string): string | undefined {
  return /^2018-E-c-En-(train|dev|test|valid|validation|val)(?:-gold)?\.txt$/i.exec(basename(file))?.[1].toLowerCase();
}

/** SemEval-2018 E-c: one tweet per row, 11 binary label columns; each tweet is a one-turn dialogue. */
export function loadSemevalFile(file: string, split: string, skipped: SkippedRow[]): Dialogue[] {
  const labels = labelScheme('semeval-ec')!.own;
  const dialogues: Dialogue[] = [];
  for (const row of readCsv(file, { delimiter: '\t', quote: false, required: ['ID', 'Tweet', ...labels] })) {
    const text = row.fields.Tweet.trim();
    if (!text) {
      skipped.push({ file, line: row.line, reason: 'empty Tweet' });
      continue;
    }
    const on = labels.filter((label) => {
      const v = row.fields[label].trim();
      if (v !== '0' && v !== '1') throw new CorpusFormatError(file, row.line, `column "${label}" must be 0 or 1, got "${v}"`);
      return v === '1';
    });
    const id = row.fields.ID.trim();
    dialogues.push({ id: `${split}/${id}`, corpus: 'semeval-ec', split, turns: [{ index: 0, speaker: 'tweet', text, labels: on, sourceId: id }] });
  }
  return dialogues;
}
