import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { labelScheme } from './labels.js';
import { notWellFormed, readCorpusText } from './text.js';
import { CorpusFormatError } from '../errors.js';
import type { Dialogue, SkippedRow } from './types.js';

/**
 * The generic corpus format: one dialogue per line, e.g.
 *   {"id": "Ses01F_impro01", "split": "train", "turns": [{"speaker": "M", "text": "Hi.", "label": "neu"}, ...]}
 * A turn has `label` (single-label) or `labels` (multi-label, possibly empty), or neither (unlabelled).
 * `split` defaults to "train". See docs/CORPUS-FORMAT.md.
 */
/** A string that is text: a lone surrogate (a JSON escape such as "\ud800" not in a pair) is an error at its field. */
function text<T extends z.ZodType<string>>(schema: T) {
  return schema.superRefine((value, ctx) => {
    const wrong = notWellFormed(value);
    if (wrong) ctx.addIssue({ code: 'custom', message: wrong });
  });
}

const TurnSchema = z.object({
  speaker: text(z.string().trim().min(1)),
  text: text(z.string()),
  label: text(z.string().trim().min(1)).optional(),
  labels: z.array(text(z.string().trim().min(1))).optional(),
  id: z.union([text(z.string()), z.number()]).optional(),
}).refine((t) => !(t.label !== undefined && t.labels !== undefined), { message: 'give label or labels, not both' });

const DialogueSchema = z.object({
  id: z.union([text(z.string().min(1)), z.number()]),
  split: text(z.string().trim().min(1)).default('train'),
  turns: z.array(TurnSchema).min(1),
});

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(line)'}: ${i.message}`).join('; ');
}

/** Resolves `<dir>/<split>.jsonl` when given a directory, else the file itself. */
export function jsonlFiles(data: string, splits: readonly string[]): string[] {
  if (existsSync(data) && statSync(data).isDirectory()) return splits.map((s) => join(data, `${s}.jsonl`));
  return [data];
}

export function loadJsonlFile(file: string, corpus: string, splits: readonly string[], skipped: SkippedRow[]): Dialogue[] {
  const text = readCorpusText(file);
  const scheme = labelScheme(corpus);
  const known = scheme ? new Set([...scheme.own, ...Object.keys(scheme.toInstructerc)]) : undefined;
  const seen = new Map<string, number>();
  const dialogues: Dialogue[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    if (lines[i].trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(lines[i]);
    } catch (error) {
      throw new CorpusFormatError(file, lineNo, `not valid JSON: ${(error as Error).message}`);
    }
    const parsed = DialogueSchema.safeParse(json);
    if (!parsed.success) throw new CorpusFormatError(file, lineNo, describe(parsed.error));
    const d = parsed.data;
    if (!splits.includes(d.split)) continue;
    const id = `${d.split}/${d.id}`;
    if (seen.has(id)) throw new CorpusFormatError(file, lineNo, `dialogue id "${d.id}" repeats line ${seen.get(id)}`);
    seen.set(id, lineNo);
    const turns = [];
    for (const [t, turn] of d.turns.entries()) {
      const labels = turn.labels ?? (turn.label !== undefined ? [turn.label] : []);
      const unknown = known && labels.find((l) => !known.has(l));
      if (unknown) {
        throw new CorpusFormatError(file, lineNo, `turns.${t}.label: "${unknown}" is not a ${corpus} label (${scheme!.own.join(', ')})`);
      }
      if (turn.text.trim() === '') {
        skipped.push({ file, line: lineNo, reason: `dialogue ${d.id} turn ${t}: empty text` });
        continue;
      }
      turns.push({
        index: turns.length, speaker: turn.speaker, text: turn.text.trim(), labels,
        ...(turn.id !== undefined ? { sourceId: String(turn.id) } : {}),
      });
    }
    if (turns.length > 0) dialogues.push({ id, corpus, split: d.split, turns });
  }
  return dialogues;
}
