import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import { holdsCorpus, type CorpusFacts } from '../index/manifest.js';
import type { IndexedRow } from '../index/rows.js';
import type { SelectionOptions, Strategy } from './select.js';

/** Splits held out for evaluation: demonstrations never come from them unless the caller asks. */
export const EVAL_SPLITS: ReadonlySet<string> = new Set(['dev', 'test', 'valid', 'validation', 'val']);

export interface IndexFacts extends CorpusFacts {
  splits: readonly string[];
}

export interface TargetFacts {
  corpus: string;
  /** The target's dialogue id as the index would name it (e.g. train/12). */
  dialogue?: string;
  /** The target's own row in the index, where the index holds it. */
  rowId?: number;
}

export interface LeakageOptions {
  k: number;
  strategy: Strategy;
  labels?: readonly string[];
  /** Allow demonstrations from dev/test splits the index holds. */
  allowEvalSplits?: boolean;
  extraExcludedDialogues?: readonly string[];
  /** Only demonstrations from these corpora (a pooled index). */
  corpora?: readonly string[];
  dedup?: boolean;
  lambda?: number;
}

/**
 * The selection a prompt's demonstrations may come from: never the target's own dialogue (so never the target
 * itself), and never an evaluation split the index holds unless asked.
 */
export function leakageSafeSelection(index: IndexFacts, target: TargetFacts, options: LeakageOptions): SelectionOptions {
  let splits: string[] | undefined;
  if (!options.allowEvalSplits) {
    const allowed = index.splits.filter((s) => !EVAL_SPLITS.has(s));
    if (allowed.length === 0) {
      throw new InputError('index', `holds only evaluation splits (${index.splits.join(', ')}); allow them explicitly to draw demonstrations from them`);
    }
    if (allowed.length < index.splits.length) splits = allowed;
  }
  const sameCorpus = holdsCorpus(index, target.corpus);
  const excludeDialogues = [...(options.extraExcludedDialogues ?? []), ...(sameCorpus && target.dialogue ? [target.dialogue] : [])];
  return {
    k: options.k,
    strategy: options.strategy,
    ...(options.labels?.length ? { labels: options.labels } : {}),
    ...(splits ? { splits } : {}),
    ...(options.corpora?.length ? { corpora: options.corpora } : {}),
    ...(excludeDialogues.length ? { excludeDialogues } : {}),
    ...(target.rowId !== undefined ? { excludeIds: [target.rowId] } : {}),
    ...(options.dedup ? { dedup: true } : {}),
    ...(options.lambda !== undefined ? { lambda: options.lambda } : {}),
  };
}

/** A dialogue's content: its turns' speakers and texts, in order (a digest, so an index's map of them stays small). */
function contentKey(turns: readonly { speaker: string; text: string }[]): string {
  return createHash('sha256').update(JSON.stringify(turns.map((t) => [t.speaker, t.text]))).digest('base64');
}

/** Per index (its rows), the dialogues it holds by content; built on first use. */
const byContent = new WeakMap<readonly IndexedRow[], Map<string, string[]>>();

/**
 * The index's dialogues whose turns (speaker and text, in order) are exactly these: the same dialogue under another
 * id, as when a dev file was indexed as train (`--relabel-split`) and the dev split is then evaluated or exported.
 * Callers treat the first as the target's own dialogue (left out, its fold's space), so the target never finds itself.
 */
export function indexedCopies(index: { readonly rows: readonly IndexedRow[] }, turns: readonly { speaker: string; text: string }[]): readonly string[] {
  let map = byContent.get(index.rows);
  if (!map) {
    const dialogues = new Map<string, IndexedRow[]>();
    for (const row of index.rows) {
      const list = dialogues.get(row.dialogue);
      if (list) list.push(row);
      else dialogues.set(row.dialogue, [row]);
    }
    map = new Map();
    for (const [dialogue, rows] of dialogues) {
      const key = contentKey(rows.sort((a, b) => a.turn - b.turn));
      const same = map.get(key);
      if (same) same.push(dialogue);
      else map.set(key, [dialogue]);
    }
    byContent.set(index.rows, map);
  }
  return map.get(contentKey(turns)) ?? [];
}
