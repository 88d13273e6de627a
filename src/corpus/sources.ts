import { existsSync } from 'node:fs';
import { InputError } from '../errors.js';
import { UNIFIED_LABELS } from './labels.js';
import { corpusLabelMap, mapLabel, type LabelMap } from './label-map.js';
import { CORPUS_FORMATS, loadCorpus, type CorpusFormat } from './load.js';
import type { Dialogue, SkippedRow } from './types.js';

/** One corpus of a pool, as `--source <format>:<path>[:<corpus-name>]` names it. */
export interface SourceSpec {
  format: CorpusFormat;
  data: string;
  /** The corpus' name (default: the format's, `jsonl` for JSONL); for JSONL it also picks a label scheme. */
  name?: string;
}

export const LABEL_SPACES = ['native', 'unified'] as const;
export type LabelSpace = (typeof LABEL_SPACES)[number];

/** What the manifest keeps of each source. */
export interface SourceSummary {
  corpus: string;
  format: CorpusFormat;
  dialogues: number;
  utterances: number;
  skipped_rows: number;
}

export interface LoadedSources {
  /** The pool's name: the one corpus', or the corpora's joined by "+". */
  corpus: string;
  /** Every source's dialogues, in source order; labels in the label space, `sourceLabels` the corpus' own. */
  dialogues: Dialogue[];
  skipped: SkippedRow[];
  sources: SourceSummary[];
  labelSpace: LabelSpace;
  /** Per corpus, the map its labels went through (unified space only). */
  labelMap: LabelMap | null;
}

export interface LoadSourcesOptions {
  splits: readonly string[];
  /** Default: native for one source, unified for several or with a label map. */
  labelSpace?: LabelSpace;
  /** Added to or overriding the paper's Table 3 mappings (unified space only). */
  labelMap?: LabelMap;
  /** Dialogue ids as `<corpus>/<id>`, unique across sources (default: when there are several sources). */
  prefixIds?: boolean;
  /** Load a file whose name says another split as the split asked for, on purpose (LoadOptions.relabelSplit). */
  relabelSplit?: boolean;
}

/**
 * `<format>:<path>[:<corpus-name>]`. The path may itself hold colons: a trailing `:<name>` is taken as the name only
 * where the whole rest is not an existing path.
 */
export function parseSourceSpec(spec: string): SourceSpec {
  const colon = spec.indexOf(':');
  const format = spec.slice(0, colon) as CorpusFormat;
  if (colon <= 0 || !(CORPUS_FORMATS as readonly string[]).includes(format)) {
    throw new InputError('source', `"${spec}" must be <format>:<path>[:<corpus-name>] with a format among ${CORPUS_FORMATS.join(', ')}`);
  }
  const rest = spec.slice(colon + 1);
  const last = rest.lastIndexOf(':');
  const named = last > 0 && !existsSync(rest) && /^[\w.-]+$/.test(rest.slice(last + 1));
  const data = named ? rest.slice(0, last) : rest;
  if (!data) throw new InputError('source', `"${spec}" has no path`);
  return { format, data, ...(named ? { name: rest.slice(last + 1) } : {}) };
}

function corpusName(spec: SourceSpec): string {
  return spec.name ?? spec.format;
}

/**
 * Loads every source's splits into one pool, checked whole before any embedding: distinct corpus names, and in the
 * unified space every label mapped (an unmapped label or a mapping outside the space is an InputError naming corpus
 * and label). Each turn keeps its corpus' own labels in `sourceLabels`.
 */
export function loadSources(specs: readonly SourceSpec[], options: LoadSourcesOptions): LoadedSources {
  if (specs.length === 0) throw new InputError('source', 'give at least one --source <format>:<path>[:<corpus-name>]');
  const names = specs.map(corpusName);
  const twice = names.find((n, i) => names.findIndex((m) => m.toLowerCase() === n.toLowerCase()) !== i);
  if (twice) {
    throw new InputError('source', `two sources are named "${twice}" (${specs.filter((s) => corpusName(s).toLowerCase() === twice.toLowerCase()).map((s) => `${s.format}:${s.data}`).join(' and ')}); ` +
      'each corpus once, or tell them apart by a third part: <format>:<path>:<corpus-name>');
  }
  const labelSpace = options.labelSpace ?? (specs.length > 1 || options.labelMap ? 'unified' : 'native');
  if (labelSpace === 'native' && specs.length > 1) {
    throw new InputError('label-space', `native cannot pool ${names.join(', ')}: each corpus names its labels its own way; use --label-space unified (with a --label-map for corpora the paper does not map)`);
  }
  const prefix = options.prefixIds ?? specs.length > 1;
  const loaded = specs.map((spec) => loadCorpus({ format: spec.format, data: spec.data, splits: options.splits, name: spec.name, relabelSplit: options.relabelSplit }));
  const labelMap: LabelMap | null = labelSpace === 'unified' ? Object.fromEntries(loaded.map((c) => [c.corpus, corpusLabelMap(c.corpus, options.labelMap)])) : null;
  if (labelMap) for (const c of loaded) checkMapped(c.corpus, c.dialogues, labelMap[c.corpus]);
  const dialogues = loaded.flatMap((c) => c.dialogues.map((d): Dialogue => ({
    ...d,
    id: prefix ? `${c.corpus}/${d.id}` : d.id,
    turns: d.turns.map((t) => ({
      ...t,
      sourceLabels: t.labels,
      labels: labelMap ? [...new Set(t.labels.map((l) => mapLabel(labelMap[c.corpus], l)!))] : t.labels,
    })),
  })));
  return {
    corpus: loaded.map((c) => c.corpus).join('+'),
    dialogues,
    skipped: loaded.flatMap((c) => c.skipped),
    sources: loaded.map((c, i) => ({
      corpus: c.corpus, format: specs[i].format, dialogues: c.dialogues.length,
      utterances: c.dialogues.reduce((n, d) => n + d.turns.length, 0), skipped_rows: c.skipped.length,
    })),
    labelSpace,
    labelMap,
  };
}

/** Every label of the corpus has a unified label, or an InputError names the first missing one and how to add it. */
function checkMapped(corpus: string, dialogues: readonly Dialogue[], map: Readonly<Record<string, string>>): void {
  const missing = new Map<string, number>();
  for (const d of dialogues) for (const t of d.turns) for (const l of t.labels) if (mapLabel(map, l) === undefined) missing.set(l, (missing.get(l) ?? 0) + 1);
  if (missing.size === 0) return;
  const list = [...missing].map(([l, n]) => `"${l}" (${n} utterances)`).join(', ');
  throw new InputError('label-map', `${corpus} ${missing.size > 1 ? `labels ${list} have` : `label ${list} has`} no unified label; map it in a --label-map file, e.g. {"${corpus}": {"${[...missing.keys()][0]}": "<one of ${UNIFIED_LABELS.join(', ')}>"}}`);
}
