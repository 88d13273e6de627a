import { parse } from 'csv-parse/sync';
import { CorpusFormatError } from '../errors.js';
import { groupTurns, type KeyedTurn } from './group.js';
import { labelScheme } from './labels.js';
import { readCorpusText } from './text.js';
import type { Dialogue, SkippedRow } from './types.js';

export interface CsvRow {
  /** Line of the record's first character in the file (1-based), for error messages. */
  line: number;
  fields: Record<string, string>;
}

/** Reads a whole delimited file with a header row; every malformed record becomes a CorpusFormatError. */
export interface CsvOptions {
  delimiter?: string;
  required: readonly string[];
  /** Escape character inside quoted fields (WASSA's files use backslash). */
  escape?: string;
  /** false: no quoting at all (SemEval's TSV, whose tweets contain bare quotes). */
  quote?: false;
}

export function readCsv(file: string, options: CsvOptions): CsvRow[] {
  const text = readCorpusText(file);
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, {
      columns: true,
      bom: true,
      delimiter: options.delimiter ?? ',',
      info: true,
      relax_quotes: true,
      escape: options.escape ?? '"',
      quote: options.quote === false ? false : '"',
      skip_empty_lines: true,
    });
  } catch (error) {
    const err = error as Error & { lines?: number };
    throw new CorpusFormatError(file, err.lines ?? 0, `malformed ${options.delimiter === '\t' ? 'TSV' : 'CSV'}: ${err.message}`);
  }
  const header = text.slice(0, text.indexOf('\n'));
  for (const column of options.required) {
    if (records.length > 0 && !Object.hasOwn(records[0].record, column)) {
      throw new CorpusFormatError(file, 1, `missing column "${column}" (header: ${header.trim()})`);
    }
  }
  // info.lines is the line the record ends on; count back its own newlines to report where it starts.
  return records.map(({ record, info }) => {
    const newlines = Object.values(record).reduce((n, v) => n + (v.match(/\n/g)?.length ?? 0), 0);
    return { line: info.lines - newlines, fields: record };
  });
}

/** Parses a non-negative integer field or throws naming the file, line and column. */
export function intField(file: string, row: CsvRow, column: string): number {
  const raw = row.fields[column]?.trim() ?? '';
  if (!/^\d+$/.test(raw)) {
    throw new CorpusFormatError(file, row.line, `column "${column}" must be a non-negative integer, got "${raw}"`);
  }
  return Number(raw);
}

/** Parses a numeric score; empty or NULL is null (unannotated); anything else not a number is an error. */
export function scoreField(file: string, row: CsvRow, column: string): number | null {
  const raw = row.fields[column]?.trim() ?? '';
  if (raw === '' || raw.toUpperCase() === 'NULL') return null;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new CorpusFormatError(file, row.line, `column "${column}" must be a number or NULL, got "${raw.slice(0, 40)}"`);
  return n;
}

/** Where a turn of a one-utterance-a-row corpus (MELD, EmoryNLP) sits: its dialogue, place in it, speaker, source id. */
export interface TurnKey {
  /** The dialogue inside its split (the split is put in front). */
  dialogue: string;
  /** The corpus' own utterance number: turns are ordered by it. */
  order: number;
  speaker: string;
  sourceId: string;
}

/** How one corpus' CSV maps onto turns: everything but the key is shared (Utterance and Emotion columns). */
export interface TurnCsvFormat {
  /** Label scheme (labels.ts) and the corpus stored with each dialogue. */
  corpus: string;
  /** The corpus as messages name it. */
  title: string;
  columns: readonly string[];
  /** Reads the row's key; a bad field throws a CorpusFormatError naming the file and line. */
  key(file: string, row: CsvRow): TurnKey;
}

/**
 * The row loop MELD and EmoryNLP share: an empty Utterance is skipped (and listed), an Emotion outside the corpus'
 * labels is an error, every other row becomes a turn keyed by the format; turns are then grouped into dialogues.
 */
export function loadTurnCsv(file: string, split: string, skipped: SkippedRow[], format: TurnCsvFormat): Dialogue[] {
  const labels = labelScheme(format.corpus)!.own;
  const rows: KeyedTurn[] = [];
  for (const row of readCsv(file, { required: format.columns })) {
    const text = row.fields.Utterance.trim();
    if (text === '') {
      skipped.push({ file, line: row.line, reason: 'empty Utterance' });
      continue;
    }
    const label = row.fields.Emotion.trim();
    if (!labels.includes(label)) {
      throw new CorpusFormatError(file, row.line, `unknown ${format.title} emotion "${label}" (expected one of ${labels.join(', ')})`);
    }
    const { dialogue, order, speaker, sourceId } = format.key(file, row);
    rows.push({ dialogueId: `${split}/${dialogue}`, order, line: row.line, turn: { speaker, text, labels: [label], sourceId } });
  }
  return groupTurns(format.corpus, split, file, rows);
}
