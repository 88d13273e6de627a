import type { CorpusFormat } from '../corpus/load.js';
import { mergeLabelMaps, readLabelMapFile } from '../corpus/label-map.js';
import { loadSources, type LoadedSources, type SourceSpec } from '../corpus/sources.js';
import { prefixesDialogues, type Manifest } from '../index/manifest.js';
import { sourceSpecs, type BuildCommandOptions } from './build-index.js';

/** What prompts and eval take to name the corpora they run over an index. */
export type SourceFlags = Pick<BuildCommandOptions, 'sources' | 'format' | 'data' | 'corpusName' | 'labelMapFile' | 'relabelSplit'>;

/**
 * Loads the split of the sources a command runs over an index, as the index saw its own: in its label space, through
 * its label maps (a `--label-map` adds to them), dialogue ids named as it names them, so targets it holds are known.
 */
export function loadSourcesForIndex(manifest: Manifest, flags: SourceFlags, split: string): LoadedSources {
  const user = flags.labelMapFile ? readLabelMapFile(flags.labelMapFile) : {};
  const labelMap = mergeLabelMaps(manifest.label_map, user);
  return loadSources(sourceSpecs(flags), {
    splits: [split],
    labelSpace: manifest.label_space,
    ...(manifest.label_space === 'unified' ? { labelMap } : {}),
    prefixIds: prefixesDialogues(manifest),
    relabelSplit: flags.relabelSplit,
  });
}

/** The flags of a command that runs over one split of a corpus against an index (prompts, eval, add), as parsed. */
export interface IndexSplitFlags {
  index: string;
  source?: SourceSpec[];
  corpus?: CorpusFormat;
  data?: string;
  split: string;
  corpusName?: string;
  labelMap?: string;
  /** Load a `--data` file whose name says another split as `--split`, on purpose (`--relabel-split`; else refused). */
  relabelSplit?: boolean;
}

/** The split those flags name, loaded as the index saw its own (loadSourcesForIndex). */
export function loadSplitForIndex(manifest: Manifest, o: IndexSplitFlags): LoadedSources {
  return loadSourcesForIndex(manifest, { sources: o.source, format: o.corpus, data: o.data, corpusName: o.corpusName, labelMapFile: o.labelMap, relabelSplit: o.relabelSplit }, o.split);
}
