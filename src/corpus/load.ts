import { existsSync, statSync } from 'node:fs';
import { CorpusSourceError } from '../errors.js';
import { emorynlpFile, loadEmorynlpFile } from './emorynlp.js';
import { jsonlFiles, loadJsonlFile } from './jsonl.js';
import { loadMeldFile, meldFile } from './meld.js';
import { loadSemevalFile, semevalFile } from './semeval.js';
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
}

/** Loads the chosen splits of a corpus into dialogues; skipped rows are returned, never dropped silently. */
export function loadCorpus(options: LoadOptions): LoadedCorpus {
  const { format, data, splits } = options;
  if (!existsSync(data)) throw new CorpusSourceError('DATA_NOT_FOUND', `data path not found: ${data}`);
  if (splits.length === 0) throw new CorpusSourceError('SPLIT_MISSING', 'no split given');
  const skipped: SkippedRow[] = [];
  const dialogues: Dialogue[] = [];
  const isFile = statSync(data).isFile();
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
