import { join } from 'node:path';
import { intField, readCsv, scoreField, type CsvRow } from './csv.js';
import { groupTurns, type KeyedTurn } from './group.js';
import { CorpusFormatError } from '../errors.js';
import type { Dialogue, SkippedRow } from './types.js';

/** WASSA 2024 (tracks 1-3). Train and dev name some columns differently, so columns are mapped by name. */
const ESCAPE = '\\';
const TRACK2_SCORES = ['Emotion', 'EmotionalPolarity', 'Empathy', 'SelfDisclosure'] as const;

export function wassaFile(dataDir: string, track: 1 | 2 | 3, split: string): string {
  const name = { 1: 'trac1_CONVD', 2: 'trac2_CONVT', 3: 'trac3_EMP' }[track];
  return join(dataDir, `${name}_${split}.csv`);
}

function speakerOf(file: string, row: CsvRow): string {
  const speaker = (row.fields.speaker ?? row.fields.speaker_id ?? '').trim();
  if (!speaker) throw new CorpusFormatError(file, row.line, 'no speaker (column "speaker" or "speaker_id")');
  return speaker;
}

interface Track2Row extends KeyedTurn {
  conversation: number;
  personIds: [string, string];
}

function readTrack2(file: string, split: string, skipped: SkippedRow[]): Track2Row[] {
  const rows: Track2Row[] = [];
  for (const row of readCsv(file, { required: ['conversation_id', 'turn_id', 'text', ...TRACK2_SCORES], escape: ESCAPE })) {
    const text = row.fields.text.trim();
    if (!text) {
      skipped.push({ file, line: row.line, reason: 'empty text' });
      continue;
    }
    const conversation = intField(file, row, 'conversation_id');
    const scores = Object.fromEntries(TRACK2_SCORES.map((c) => [c, scoreField(file, row, c)]));
    rows.push({
      dialogueId: `${split}/${conversation}`,
      order: intField(file, row, 'turn_id'),
      line: row.line,
      conversation,
      personIds: [row.fields.person_id_1?.trim() ?? '', row.fields.person_id_2?.trim() ?? ''],
      turn: { speaker: speakerOf(file, row), text, labels: [], scores, sourceId: row.fields.id },
    });
  }
  return rows;
}

/** Track 2: speech turns with Emotion, EmotionalPolarity, Empathy, SelfDisclosure; a dialogue per conversation_id. */
export function loadWassaTrack2(dataDir: string, split: string, skipped: SkippedRow[]): Dialogue[] {
  const file = wassaFile(dataDir, 2, split);
  return groupTurns('wassa', split, file, readTrack2(file, split, skipped));
}

/**
 * Track 1: one prediction per (conversation, person): the whole conversation (from the track-2 file of the same
 * split), the target being that person's last turn, scored with `perceived_empathy`.
 */
export function loadWassaTrack1(dataDir: string, split: string, skipped: SkippedRow[]): Dialogue[] {
  const turnsFile = wassaFile(dataDir, 2, split);
  const turnRows = readTrack2(turnsFile, split, skipped);
  const conversations = new Map(groupTurns('wassa', split, turnsFile, turnRows).map((d) => [d.id, d]));
  const people = new Map<string, Track2Row>();
  for (const r of turnRows) if (!people.has(r.dialogueId)) people.set(r.dialogueId, r);
  const file = wassaFile(dataDir, 1, split);
  const dialogues: Dialogue[] = [];
  for (const row of readCsv(file, { required: ['conversation_id', 'this_persons_perceived_empathy_of_other_person'], escape: ESCAPE })) {
    const conversation = intField(file, row, 'conversation_id');
    const base = conversations.get(`${split}/${conversation}`);
    if (!base) {
      skipped.push({ file, line: row.line, reason: `conversation ${conversation} has no turns in ${turnsFile}` });
      continue;
    }
    const person = (row.fields.person_id ?? row.fields.person_id_1 ?? '').trim();
    // Train names speakers "Person 1"/"Person 2" (person_id_1/_2 of the turn rows); dev names them by person id.
    const first = people.get(base.id)!;
    const speaker = base.turns.some((t) => t.speaker === person) ? person : first.personIds[0] === person ? 'Person 1' : first.personIds[1] === person ? 'Person 2' : undefined;
    const target = speaker === undefined ? -1 : base.turns.map((t) => t.speaker).lastIndexOf(speaker);
    if (target < 0) {
      skipped.push({ file, line: row.line, reason: `person ${person} does not speak in conversation ${conversation}` });
      continue;
    }
    const turns = base.turns.map((t, i) => (i === target ? { ...t, scores: { perceived_empathy: scoreField(file, row, 'this_persons_perceived_empathy_of_other_person') } } : { ...t, scores: {} as Record<string, number | null> }));
    dialogues.push({ id: `${split}/${conversation}-${person}`, corpus: 'wassa', split, turns, targets: [target] });
  }
  return dialogues;
}

/** Track 3: one essay per row, scored with person_empathy and person_distress (1..7). */
export function loadWassaTrack3(dataDir: string, split: string, skipped: SkippedRow[]): Dialogue[] {
  const file = wassaFile(dataDir, 3, split);
  const dialogues: Dialogue[] = [];
  for (const row of readCsv(file, { required: ['conversation_id', 'person_id', 'person_essay', 'person_empathy', 'person_distress'], escape: ESCAPE })) {
    const text = row.fields.person_essay.trim();
    if (!text) {
      skipped.push({ file, line: row.line, reason: 'empty person_essay' });
      continue;
    }
    const conversation = intField(file, row, 'conversation_id');
    const person = row.fields.person_id.trim();
    dialogues.push({
      id: `${split}/${conversation}-${person}`, corpus: 'wassa', split,
      turns: [{
        index: 0, speaker: person, text, labels: [],
        scores: { person_empathy: scoreField(file, row, 'person_empathy'), person_distress: scoreField(file, row, 'person_distress') },
      }],
    });
  }
  return dialogues;
}
