import { join } from 'node:path';
import { intField, readCsv } from './csv.js';
import { groupTurns, type KeyedTurn } from './group.js';
import { labelScheme } from './labels.js';
import { CorpusFormatError } from '../errors.js';
import type { Dialogue, SkippedRow } from './types.js';

const COLUMNS = ['Utterance', 'Speaker', 'Emotion', 'Dialogue_ID', 'Utterance_ID'] as const;

export function meldFile(dataDir: string, split: string): string {
  return join(dataDir, `${split}_sent_emo.csv`);
}

/** MELD: one CSV per split; a dialogue is (split, Dialogue_ID), turns ordered by Utterance_ID. */
export function loadMeldFile(file: string, split: string, skipped: SkippedRow[]): Dialogue[] {
  const labels = labelScheme('meld')!.own;
  const rows: KeyedTurn[] = [];
  for (const row of readCsv(file, { required: COLUMNS })) {
    const text = row.fields.Utterance.trim();
    if (text === '') {
      skipped.push({ file, line: row.line, reason: 'empty Utterance' });
      continue;
    }
    const label = row.fields.Emotion.trim();
    if (!labels.includes(label)) {
      throw new CorpusFormatError(file, row.line, `unknown MELD emotion "${label}" (expected one of ${labels.join(', ')})`);
    }
    const dialogue = intField(file, row, 'Dialogue_ID');
    const utterance = intField(file, row, 'Utterance_ID');
    rows.push({
      dialogueId: `${split}/${dialogue}`,
      order: utterance,
      line: row.line,
      turn: { speaker: row.fields.Speaker.trim(), text, labels: [label], sourceId: `${dialogue}_${utterance}` },
    });
  }
  return groupTurns('meld', split, file, rows);
}
