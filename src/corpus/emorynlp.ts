import { join } from 'node:path';
import { intField, readCsv } from './csv.js';
import { groupTurns, type KeyedTurn } from './group.js';
import { labelScheme } from './labels.js';
import { CorpusFormatError } from '../errors.js';
import type { Dialogue, SkippedRow } from './types.js';

const COLUMNS = ['Utterance', 'Speaker', 'Emotion', 'Scene_ID', 'Utterance_ID', 'Season', 'Episode'] as const;

export function emorynlpFile(dataDir: string, split: string): string {
  return join(dataDir, `emorynlp_${split}_final.csv`);
}

/** Speaker is a Python list literal such as ['Monica Geller'] or ['Ross Geller', 'Rachel Green']. */
function parseSpeakers(raw: string): string[] | undefined {
  const trimmed = raw.trim();
  if (!trimmed.startsWith('[') || !trimmed.endsWith(']')) return undefined;
  const names = [...trimmed.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? m[2]).trim());
  return names.length > 0 ? names : undefined;
}

/** EmoryNLP: a dialogue is (split, Season, Episode, Scene_ID), turns ordered by Utterance_ID. */
export function loadEmorynlpFile(file: string, split: string, skipped: SkippedRow[]): Dialogue[] {
  const labels = labelScheme('emorynlp')!.own;
  const rows: KeyedTurn[] = [];
  for (const row of readCsv(file, { required: COLUMNS })) {
    const text = row.fields.Utterance.trim();
    if (text === '') {
      skipped.push({ file, line: row.line, reason: 'empty Utterance' });
      continue;
    }
    const label = row.fields.Emotion.trim();
    if (!labels.includes(label)) {
      throw new CorpusFormatError(file, row.line, `unknown EmoryNLP emotion "${label}" (expected one of ${labels.join(', ')})`);
    }
    const speakers = parseSpeakers(row.fields.Speaker);
    if (!speakers) {
      throw new CorpusFormatError(file, row.line, `Speaker must be a list such as ['Monica Geller'], got ${row.fields.Speaker}`);
    }
    const season = intField(file, row, 'Season');
    const episode = intField(file, row, 'Episode');
    const scene = intField(file, row, 'Scene_ID');
    const utterance = intField(file, row, 'Utterance_ID');
    rows.push({
      dialogueId: `${split}/s${season}e${episode}c${scene}`,
      order: utterance,
      line: row.line,
      turn: { speaker: speakers.join(' & '), text, labels: [label], sourceId: `s${season}e${episode}c${scene}u${utterance}` },
    });
  }
  return groupTurns('emorynlp', split, file, rows);
}
