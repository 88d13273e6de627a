import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { CorpusSourceError } from '../errors.js';
import { emorynlpFile, emorynlpFileSplit, loadEmorynlpFile } from './emorynlp.js';
import { jsonlFiles, loadJsonlFile } from './jsonl.js';
import { loadMeldFile, meldFile, meldFileSplit } from './meld.js';
import { loadSemevalFile, semevalFile, semevalFileSplit } from './semeval.js';
import { loadWassaTrack1, loadWassaTrack2, loadWassaTrack3 } from './wassa.js';
import type { Dialogue, LoadedCorpus, SkippedRow } from './types.js';

export const CORPUS_FORMATS = ['meld', 'emorynlp', 'jsonl', 'wassa-t1', 'wassa-t2', 'wassa-t3', 'semeval-ec'] as const;
export type CorpusFormat = (typeof CORPUS_FORMATS)[number];

export interface LoadOptions {
  format: CorpusFormat;
  /** A directory holding the corpus' files, or (for jsonl, or one split) a single file. */
  data: string;
  splits: readonly string[];
  /** Corpus name stored with the index; for jsonl it also picks a label scheme (e.g. "iemocap"). */
  name?: string;
  /**
   * Load a single file whose name says another split (MELD's `dev_sent_emo.csv` with splits ["train"]) as the split
   * asked for, on purpose. Without it that is refused (checkFileSplit): docs/CORPUS-FORMAT.md, "Splits and file names".
   */
  relabelSplit?: boolean;
}

/** The split a corpus file's own name says it holds (the name its loader looks for in a directory), or undefined. */
export function splitOfFile(format: CorpusFormat, file: string): string | undefined {
  if (format === 'meld') return meldFileSplit(file);
  if (format === 'emorynlp') return emorynlpFileSplit(file);
  if (format === 'semeval-ec') return semevalFileSplit(file);
  // jsonl: a directory holds `<split>.jsonl` (jsonlFiles); a file of that name is that split's.
  if (format === 'jsonl') return /^(train|dev|test|valid|validation|val)\.jsonl$/i.exec(basename(file))?.[1].toLowerCase();
  return undefined;
}

/**
 * A single file whose name says one split, asked for as another: its dialogues would be named for the split asked
 * (dev/12 as train/12), and an eval or export of the split it really holds would then find each target's own dialogue
 * in the index under another name. Refused, naming both, unless relabelSplit says it is on purpose.
 */
function checkFileSplit(format: CorpusFormat, file: string, splits: readonly string[], relabelSplit: boolean | undefined): void {
  const named = splitOfFile(format, file);
  if (named === undefined || relabelSplit) return;
  const other = splits.filter((s) => s !== named);
  if (other.length === 0) return;
  throw new CorpusSourceError('DATA_PATH_INVALID', `--data ${file} is the ${named} split (its file name says so) but --split ${other.join(',')} was asked for: ` +
    `its dialogues would be indexed as ${other[0]}/<id>, and an eval or export of ${named} would then find each target's own dialogue under that name. ` +
    `Give --split ${named} (or --data the directory holding every split) to load it as what it is; to load it as ${other.join(',')} on purpose, add --relabel-split`);
}

/** Loads the chosen splits of a corpus into dialogues; skipped rows are returned, never dropped silently. */
export function loadCorpus(options: LoadOptions): LoadedCorpus {
  const { format, data, splits } = options;
  if (!existsSync(data)) throw new CorpusSourceError('DATA_NOT_FOUND', `data path not found: ${data}`);
  if (splits.length === 0) throw new CorpusSourceError('SPLIT_MISSING', 'no split given');
  const skipped: SkippedRow[] = [];
  const dialogues: Dialogue[] = [];
  const isFile = statSync(data).isFile();
  if (isFile) checkFileSplit(format, data, splits, options.relabelSplit);
  if (format === 'jsonl') {
    const corpus = options.name ?? 'jsonl';
    for (const file of jsonlFiles(data, splits)) dialogues.push(...loadJsonlFile(file, corpus, splits, skipped));
    return { corpus, dialogues, skipped };
  }
  if (format.startsWith('wassa-')) {
    if (isFile) throw new CorpusSourceError('DATA_PATH_INVALID', `--data ${data}: WASSA needs the directory holding the trac*_{train,dev}.csv files`);
    for (const split of splits) {
      if (format === 'wassa-t1') dialogues.push(...loadWassaTrack1(data, split, skipped));
      else if (format === 'wassa-t2') dialogues.push(...loadWassaTrack2(data, split, skipped));
      else dialogues.push(...loadWassaTrack3(data, split, skipped));
    }
    return { corpus: options.name ?? 'wassa', dialogues, skipped };
  }
  if (isFile && splits.length > 1) throw new CorpusSourceError('DATA_PATH_INVALID', `--data ${data} is one file but ${splits.length} splits were asked for; give the directory`);
  for (const split of splits) {
    if (format === 'meld') dialogues.push(...loadMeldFile(isFile ? data : meldFile(data, split), split, skipped));
    else if (format === 'emorynlp') dialogues.push(...loadEmorynlpFile(isFile ? data : emorynlpFile(data, split), split, skipped));
    else dialogues.push(...loadSemevalFile(isFile ? data : semevalFile(data, split), split, skipped));
  }
  return { corpus: options.name ?? format, dialogues, skipped };
}
