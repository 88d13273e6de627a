import { InputError } from '../errors.js';
import { holdsCorpus, type CorpusFacts } from '../index/manifest.js';
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
