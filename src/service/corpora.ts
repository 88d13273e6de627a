import { corpusLabelMap, labelMapOf, mapLabel } from '../corpus/label-map.js';
import { InputError } from '../errors.js';
import { indexCorpora, type Manifest } from '../index/manifest.js';

/** Requested corpus names onto a (pooled) index's own, each once, case-insensitively; an unknown one names `param`. */
export function resolveCorpora(manifest: Pick<Manifest, 'corpus' | 'sources'>, requested: readonly string[], param: string): string[] {
  const held = indexCorpora(manifest);
  const resolved = new Set<string>();
  for (const wanted of requested) {
    const match = held.find((c) => c.toLowerCase() === wanted.trim().toLowerCase());
    if (!match) throw new InputError(param, `unknown corpus "${wanted}" (this index holds: ${held.join(', ')})`);
    resolved.add(match);
  }
  return [...resolved];
}

/**
 * A label given in a corpus' own names, in the index's space: through the corpus' map where the index is unified and
 * maps that corpus (MELD `anger` -> `mad`, IEMOCAP `hap` -> `joyful`); otherwise as given (checked against the index's labels by the caller).
 */
export function inIndexSpace(manifest: Pick<Manifest, 'label_map' | 'label_space'>, corpus: string, label: string): string {
  // A corpus the pool does not hold is still mapped by the paper's table where it is one of its corpora (IEMOCAP).
  const map = labelMapOf(manifest.label_map, corpus) ?? (manifest.label_space === 'unified' ? corpusLabelMap(corpus) : undefined);
  return (map && mapLabel(map, label)) ?? label;
}
