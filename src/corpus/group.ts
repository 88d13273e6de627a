import type { Dialogue, Turn } from './types.js';
import { CorpusFormatError } from '../errors.js';

/** A row keyed by dialogue and its order key inside the dialogue, before grouping. */
export interface KeyedTurn {
  dialogueId: string;
  order: number;
  line: number;
  turn: Omit<Turn, 'index'>;
}

/**
 * Groups rows into dialogues ordered by first appearance, turns ordered by the corpus' own utterance number;
 * a repeated (dialogue, utterance number) is an error, since it would make the history ambiguous.
 */
export function groupTurns(corpus: string, split: string, file: string, rows: KeyedTurn[]): Dialogue[] {
  const byDialogue = new Map<string, KeyedTurn[]>();
  for (const row of rows) {
    const list = byDialogue.get(row.dialogueId) ?? [];
    list.push(row);
    byDialogue.set(row.dialogueId, list);
  }
  const dialogues: Dialogue[] = [];
  for (const [id, list] of byDialogue) {
    list.sort((a, b) => a.order - b.order);
    for (let i = 1; i < list.length; i++) {
      if (list[i].order === list[i - 1].order) {
        throw new CorpusFormatError(file, list[i].line,
          `dialogue ${id} has utterance number ${list[i].order} twice (also on line ${list[i - 1].line})`);
      }
    }
    dialogues.push({ id, corpus, split, turns: list.map((row, index) => ({ ...row.turn, index })) });
  }
  return dialogues;
}
