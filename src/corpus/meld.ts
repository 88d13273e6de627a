import { basename, join } from 'node:path';
import { intField, loadTurnCsv, type TurnCsvFormat } from './csv.js';
import type { Dialogue, SkippedRow } from './types.js';

export function meldFile(dataDir: string, split: string): string {
  return join(dataDir, `${split}_sent_emo.csv`);
}

/** The split a file's name says it holds, as meldFile names it (`dev_sent_emo.csv`: dev), or undefined. */
export function meldFileSplit(file: string): string | undefined {
  return /^(train|dev|test|valid|validation|val)_sent_emo\.csv$/i.exec(basename(file))?.[1].toLowerCase();
}

/** MELD: a dialogue is (split, Dialogue_ID), turns ordered by Utterance_ID. */
const MELD: TurnCsvFormat = {
  corpus: 'meld',
  title: 'MELD',
  columns: ['Utterance', 'Speaker', 'Emotion', 'Dialogue_ID', 'Utterance_ID'],
  key(file, row) {
    const dialogue = intField(file, row, 'Dialogue_ID');
    const utterance = intField(file, row, 'Utterance_ID');
    return { dialogue: String(dialogue), order: utterance, speaker: row.fields.Speaker.trim(), sourceId: `${dialogue}_${utterance}` };
  },
};

/** MELD: one CSV per split. */
export function loadMeldFile(file: string, split: string, skipped: SkippedRow[]): Dialogue[] {
  return loadTurnCsv(file, split, skipped, MELD);
}
