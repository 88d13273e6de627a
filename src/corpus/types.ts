/** One utterance of a dialogue, in corpus order. */
export interface Turn {
  /** 0-based position in the dialogue. */
  index: number;
  speaker: string;
  text: string;
  /** Gold labels in the corpus' own names: one for single-label corpora, any number for multi-label ones. */
  labels: string[];
  /** The corpus' own labels where `labels` are mapped into another space (a unified pool); absent: the same. */
  sourceLabels?: string[];
  /** Numeric annotations (WASSA), keyed by the corpus' column name; null where the corpus has none. */
  scores?: Record<string, number | null>;
  /** The corpus' own id of this utterance, where it has one. */
  sourceId?: string;
}

export interface Dialogue {
  /** Unique within the corpus: split-qualified where the corpus reuses ids across splits (MELD). */
  id: string;
  corpus: string;
  split: string;
  turns: Turn[];
  /** Turns that are prediction targets (conversation-level tasks have one); all turns when absent. */
  targets?: number[];
}

/** A row the loader skipped on purpose, reported to the user instead of dropped silently. */
export interface SkippedRow {
  file: string;
  line: number;
  reason: string;
}

export interface LoadedCorpus {
  corpus: string;
  dialogues: Dialogue[];
  skipped: SkippedRow[];
}

/** A malformed input file (defined with the other errors in errors.ts). */
export { CorpusFormatError } from '../errors.js';
