import { basename, join } from 'node:path';
import { CorpusFormatError } from '../errors.js';
import { intField, loadTurnCsv, type TurnCsvFormat } from './csv.js';
import type { Dialogue, SkippedRow } from './types.js';

export function emorynlpFile(dataDir: string, split: string): string {
  return join(dataDir, `emorynlp_${split}_final.csv`);
}

/** The split a file's name says it holds, as emorynlpFile names it (`emorynlp_dev_final.csv`: dev), or undefined. */
export function emorynlpFileSplit(file: string): string | undefined {
  return /^emorynlp_(train|dev|test|valid|validation|val)_final\.csv$/i.exec(basename(file))?.[1].toLowerCase();
}

/** Speaker is a Python list literal such as ['Monica Geller'] or ['Ross Geller', 'Rachel Green']. */
function parseSpeakers(raw: string): string[] | undefined {
  const trimmed = raw.trim();
  if (!trimmed.startsWith('[') || !trimmed.endsWith(']')) return undefined;
  const names = [...trimmed.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? m[2]).trim());
  return names.length > 0 ? names : undefined;
}

/** EmoryNLP: a dialogue is (split, Season, Episode, Scene_ID), turns ordered by Utterance_ID. */
const EMORYNLP: TurnCsvFormat = {
  corpus: 'emorynlp',
  title: 'EmoryNLP',
  columns: ['Utterance', 'Speaker', 'Emotion', 'Scene_ID', 'Utterance_ID', 'Season', 'Episode'],
  key(file, row) {
    const speakers = parseSpeakers(row.fields.Speaker);
    if (!speakers) {
      throw new CorpusFormatError(file, row.line, `Speaker must be a list such as ['Monica Geller'], got ${row.fields.Speaker}`);
    }
    const season = intField(file, row, 'Season');
    const episode = intField(file, row, 'Episode');
    const scene = intField(file, row, 'Scene_ID');
    const utterance = intField(file, row, 'Utterance_ID');
    return { dialogue: `s${season}e${episode}c${scene}`, order: utterance, speaker: speakers.join(' & '), sourceId: `s${season}e${episode}c${scene}u${utterance}` };
  },
};

/** EmoryNLP: one CSV per split. */
export function loadEmorynlpFile(file: string, split: string, skipped: SkippedRow[]): Dialogue[] {
  return loadTurnCsv(file, split, skipped, EMORYNLP);
}
