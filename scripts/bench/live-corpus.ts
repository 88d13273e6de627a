/**
 * Text for `npm run live` (scripts/bench/live.ts): an index corpus of any size made of MELD's train and dev dialogues
 * repeated with spoken-style variations, as scripts/bench/scale.ts makes its corpora (its prefixes and suffixes: copy
 * 0 is MELD itself), but MELD alone with its own labels; and dialogues to write, ~10 turns each, from the same MELD
 * text under another family of variations, so every written text and id is new to the index. Nothing is committed:
 * the files go to the run's cache folder.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { loadCorpus } from '../../src/corpus/load.js';
import type { Dialogue } from '../../src/corpus/types.js';

/** scale.ts's variations (copy r > 0: one prefix and one suffix). */
const PREFIXES = ['Well, ', 'So, ', 'Oh, ', 'Okay, ', 'Look, ', 'Hey, ', 'I mean, ', 'Honestly, '];
const SUFFIXES = ['', ', you know?', ', right?', ', I guess.', ' Anyway.', ', okay?', ' Seriously.', ', huh?'];
/** Variations no index copy uses: written text is always new. */
const WRITE_PREFIXES = ['Listen, ', 'Wait, ', 'Right, ', 'Yeah, ', 'Alright, ', 'Man, ', 'Gosh, ', 'Actually, '];
const WRITE_SUFFIXES = [' Really.', ', no?', ', see?', ', yes?', ' Truly.', ', trust me.', ' Whatever.', ', alright?'];

function vary(text: string, prefix: string, suffix: string): string {
  return `${prefix}${text.charAt(0).toLowerCase()}${text.slice(1)}${suffix}`;
}

function indexVariant(text: string, copy: number): string {
  if (copy === 0) return text;
  return vary(text, PREFIXES[(copy - 1) % PREFIXES.length], SUFFIXES[Math.floor((copy - 1) / PREFIXES.length) % SUFFIXES.length]);
}

export interface LiveTurn { speaker: string; text: string; label: string }
export interface LiveDialogue { id: string; turns: LiveTurn[] }

/** MELD's train and dev dialogues (labels MELD's own), and its test dialogues (the GET load's utterances). */
export function meldDialogues(meldDir: string): { base: Dialogue[]; queries: Dialogue[] } {
  return {
    base: loadCorpus({ format: 'meld', data: meldDir, splits: ['train', 'dev'] }).dialogues,
    queries: loadCorpus({ format: 'meld', data: meldDir, splits: ['test'] }).dialogues,
  };
}

async function writeLine(stream: WriteStream, line: string): Promise<void> {
  if (!stream.write(`${line}\n`)) await new Promise<void>((r) => stream.once('drain', () => r()));
}

/** Writes `size` utterances as a JSONL corpus (split train): copies of the base dialogues until full, the last cut. */
export async function writeIndexCorpus(base: readonly Dialogue[], size: number, file: string): Promise<void> {
  const out = createWriteStream(file);
  let written = 0;
  for (let copy = 0; written < size; copy++) {
    if (copy > PREFIXES.length * SUFFIXES.length) throw new Error(`MELD has too few utterances for ${size}`);
    for (const d of base) {
      if (written >= size) break;
      const turns = d.turns.slice(0, size - written).map((t) => ({ speaker: t.speaker, text: indexVariant(t.text, copy), label: t.labels[0] }));
      await writeLine(out, JSON.stringify({ id: `${d.split}/${d.id}/${copy}`, split: 'train', turns }));
      written += turns.length;
    }
  }
  await new Promise((r) => out.end(r));
}

/**
 * The `set`-th batch of dialogues to write: `utterances` MELD turns (read on from where the previous set stopped),
 * cut into dialogues of `turnsPerDialogue`, each text under this set's variation (64 sets before one repeats its
 * variation, on other turns then), ids `<prefix>/<set>/<n>`.
 */
export function writeSet(base: readonly Dialogue[], set: number, utterances: number, turnsPerDialogue: number, prefix: string): LiveDialogue[] {
  const turns = base.flatMap((d) => d.turns);
  const variation = set % (WRITE_PREFIXES.length * WRITE_SUFFIXES.length);
  const p = WRITE_PREFIXES[variation % WRITE_PREFIXES.length];
  const s = WRITE_SUFFIXES[Math.floor(variation / WRITE_PREFIXES.length)];
  const dialogues: LiveDialogue[] = [];
  for (let n = 0; n < utterances; n++) {
    const t = turns[(set * utterances + n) % turns.length];
    if (n % turnsPerDialogue === 0) dialogues.push({ id: `${prefix}/${set}/${dialogues.length}`, turns: [] });
    dialogues[dialogues.length - 1].turns.push({ speaker: t.speaker, text: vary(t.text, p, s), label: t.labels[0] });
  }
  return dialogues;
}

/** The corpus file's path for a size, in `dir`. */
export function corpusFile(dir: string, size: number): string {
  return join(dir, `live-${size}.jsonl`);
}
