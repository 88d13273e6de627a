import { loadCorpus, type CorpusFormat } from '../corpus/load.js';
import { InputError } from '../errors.js';
import { resolveFormat, formatFromFile } from '../service/prompt-request.js';
import { exportPrompts } from '../service/export.js';
import { DemoService } from '../service/service.js';
import { STRATEGIES, type Strategy } from '../retrieve/select.js';
import type { PromptFormat } from '../prompt/formats.js';
import { progressBar } from './progress.js';

export interface PromptsCommandOptions {
  index: string;
  corpus: CorpusFormat;
  data: string;
  split: string;
  corpusName?: string;
  format: string;
  formatFile?: string;
  k: string;
  strategy: string;
  window?: string;
  unified?: boolean;
  allowEvalDemos?: boolean;
  dedup?: boolean;
  demoBlock?: string;
  demoItem?: string;
  demoSeparator?: string;
  out: string;
}

function intOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new InputError(name, `must be an integer between ${min} and ${max}, got "${value}"`);
  return n;
}

/** erc-demos prompts: loads a split, builds leakage-safe prompts in batches and writes them atomically. */
export async function runPromptExport(o: PromptsCommandOptions): Promise<void> {
  const k = intOption('k', o.k, 0, 100);
  const window = o.window === undefined ? undefined : intOption('window', o.window, 0, 1000);
  if (!(STRATEGIES as readonly string[]).includes(o.strategy)) throw new InputError('strategy', `must be one of ${STRATEGIES.join(', ')}`);
  const base = o.formatFile ? formatFromFile(o.formatFile) : resolveFormat(o.format);
  const format: PromptFormat = {
    ...base,
    demo: { block: o.demoBlock ?? base.demo.block, item: o.demoItem ?? base.demo.item, separator: o.demoSeparator ?? base.demo.separator },
  };
  const service = await DemoService.load([o.index]);
  const { index } = service.index();
  const corpus = loadCorpus({ format: o.corpus, data: o.data, splits: [o.split], name: o.corpusName });
  if (corpus.skipped.length) console.error(`skipped ${corpus.skipped.length} rows (first: ${corpus.skipped[0].file}:${corpus.skipped[0].line}: ${corpus.skipped[0].reason})`);
  if (corpus.corpus !== index.manifest.corpus) {
    console.error(`note: prompts for ${corpus.corpus} with demonstrations from a ${index.manifest.corpus} index`);
  }
  const bar = progressBar(`prompts (${format.name})`);
  try {
    const summary = await exportPrompts({
      index, embedder: service.embedderFor(index), format, dialogues: corpus.dialogues, out: o.out,
      options: { k, strategy: o.strategy as Strategy, window, unified: o.unified, allowEvalSplits: o.allowEvalDemos, dedup: o.dedup },
      onProgress: bar.update,
    });
    bar.stop();
    console.error(`wrote ${o.out}: ${summary.prompts} prompts (${summary.withTarget} with a target) in ${summary.seconds.toFixed(1)}s`);
  } finally {
    bar.stop();
  }
}
