import { mergeLabelMaps, readLabelMapFile } from '../corpus/label-map.js';
import { loadSources, type LoadedSources } from '../corpus/sources.js';
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
