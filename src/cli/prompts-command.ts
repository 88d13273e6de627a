import { basename } from 'node:path';
import { sampleDialogues, sampleMismatch, type SampleSpec } from '../corpus/sample.js';
import type { Dialogue } from '../corpus/types.js';
import { holdsCorpus, type Manifest } from '../index/manifest.js';
import { loadSplitForIndex, type IndexSplitFlags } from './index-sources.js';
import { InputError } from '../errors.js';
import { parseDecimal, parseInteger } from '../numbers.js';
import { resolveFormat, formatFromFile } from '../service/prompt-request.js';
import { exportPrompts } from '../service/export.js';
import { writeFileAtomic } from '../service/export-sink.js';
import { besideTarget, exportTarget } from '../service/export-target.js';
import { checkShapeOptions, datasetInfoEntry, type JsonlShape } from '../service/jsonl-shapes.js';
import { DemoService } from '../service/service.js';
import { STRATEGIES, type Strategy } from '../retrieve/select.js';
import type { PromptFormat } from '../prompt/formats.js';
import { progressBar } from './progress.js';
import { batchSettings } from './batch-settings.js';

export interface PromptsCommandOptions extends IndexSplitFlags {
  /** Export a sample of the split's dialogues; the index must hold the same sample (its demonstration pool). */
  sample?: SampleSpec;
  format: string;
  formatFile?: string;
  k: string;
  strategy: string;
  window?: string;
  unified?: boolean;
  allowEvalDemos?: boolean;
  dedup?: boolean;
  /** false (--no-cross-fit): training utterances' demonstrations from the full space. */
  crossFit?: boolean;
  demoBlock?: string;
  demoItem?: string;
  demoSeparator?: string;
  jsonlShape: JsonlShape;
  /** messages shape: a system message before each prompt. */
  system?: string;
  lambda?: string;
  out: string;
}

/** By the one rule for numbers given as text (src/numbers.ts): `--window ''` or `--k 0x5` is refused, not guessed. */
function intOption(name: string, value: string, min: number, max: number): number {
  return parseInteger(name, value, { min, max });
}

/**
 * The dialogues of a fraction export: the sample of the split, which must be the one the index holds, so that no
 * demonstration shows a label from outside it (refused, naming the difference, before anything is written).
 */
function sampledForIndex(dialogues: readonly Dialogue[], spec: SampleSpec, manifest: Manifest): Dialogue[] {
  const sampled = sampleDialogues(dialogues, spec);
  const mismatch = sampleMismatch(manifest.sample, sampled.record);
  if (mismatch) throw new InputError('fraction', mismatch);
  const parts = Object.entries(sampled.record.per_corpus).map(([c, n]) => `${c} ${n.sampled} of ${n.of}`).join(', ');
  console.error(`sample --fraction ${spec.fraction.text} --mix ${spec.mix} --seed ${spec.seed}: ${parts} dialogues, as the index holds`);
  return sampled.dialogues;
}

/** The dataset's name in LLaMA-Factory's dataset_info: the export's file name without .jsonl (`prompts` on standard output). */
function datasetName(out: string): string {
  return out === '-' ? 'prompts' : basename(out).replace(/\.jsonl?$/, '');
}

/** erc-demos prompts: loads a split, builds leakage-safe prompts in batches and writes them atomically. */
export async function runPromptExport(o: PromptsCommandOptions): Promise<void> {
  const k = intOption('k', o.k, 0, 100);
  const shapeOptions = o.system !== undefined ? { system: o.system } : {};
  checkShapeOptions(o.jsonlShape, shapeOptions);
  const window = o.window === undefined ? undefined : intOption('window', o.window, 0, 1000);
  if (!(STRATEGIES as readonly string[]).includes(o.strategy)) throw new InputError('strategy', `must be one of ${STRATEGIES.join(', ')}`);
  const lambda = o.lambda === undefined ? undefined : parseDecimal('lambda', o.lambda, { min: 0, max: 1 });
  // Where the prompts go, checked before any work: standard output (`-`), or a file replaced atomically that is not one
  // of what the export reads (export-target.ts), nor is the dataset_info entry written beside it.
  const inputs = [o.index, ...(o.source ?? []).map((s) => s.data), ...[o.data, o.labelMap, o.formatFile].filter((p): p is string => p !== undefined)];
  const toStdout = o.out === '-';
  const out = toStdout ? process.stdout : exportTarget(o.out, inputs);
  const entry = datasetInfoEntry(o.jsonlShape, datasetName(o.out), basename(o.out));
  const infoFile = entry && !toStdout ? besideTarget(o.out, `${datasetName(o.out)}.dataset_info.json`, inputs) : undefined;
  const base = o.formatFile ? formatFromFile(o.formatFile) : resolveFormat(o.format);
  const format: PromptFormat = {
    ...base,
    demo: { block: o.demoBlock ?? base.demo.block, item: o.demoItem ?? base.demo.item, separator: o.demoSeparator ?? base.demo.separator },
  };
  const service = await DemoService.load([o.index], { settings: batchSettings() });
  const { index } = service.index();
  const corpus = loadSplitForIndex(index.manifest, o);
  if (corpus.skipped.length) console.error(`skipped ${corpus.skipped.length} rows (first: ${corpus.skipped[0].file}:${corpus.skipped[0].line}: ${corpus.skipped[0].reason})`);
  const foreign = corpus.sources.filter((s) => !holdsCorpus(index.manifest, s.corpus)).map((s) => s.corpus);
  if (foreign.length) console.error(`note: prompts for ${foreign.join(', ')} with demonstrations from a ${index.manifest.corpus} index`);
  const dialogues = o.sample ? sampledForIndex(corpus.dialogues, o.sample, index.manifest) : corpus.dialogues;
  if (!o.sample && index.manifest.sample && index.manifest.splits.includes(o.split)) {
    console.error(`note: the index holds a --fraction ${index.manifest.sample.fraction} sample; all ${o.split} dialogues get prompts, their demonstrations from the sample (add the same --fraction --mix --seed to export the sample only)`);
  }
  const bar = progressBar(`prompts (${format.name})`);
  try {
    const summary = await exportPrompts({
      index, embedder: service.embedderFor(index), format, dialogues, out, inputs, shape: o.jsonlShape, shapeOptions,
      options: { k, strategy: o.strategy as Strategy, window, unified: o.unified, allowEvalSplits: o.allowEvalDemos, dedup: o.dedup, lambda, crossFit: o.crossFit !== false },
      onProgress: bar.update,
    });
    bar.stop();
    console.error(`wrote ${toStdout ? 'standard output' : o.out}: ${summary.prompts} prompts (${summary.withTarget} with a target) in ${summary.seconds.toFixed(1)}s`);
    if (infoFile && entry) {
      // Beside the export, for LLaMA-Factory: merge it into data/dataset_info.json and copy the export to data/.
      writeFileAtomic(infoFile, `${JSON.stringify(entry, null, 2)}\n`);
      console.error(`wrote ${infoFile} (the dataset_info.json entry LLaMA-Factory needs):\n${JSON.stringify(entry)}`);
    } else if (entry) console.error(`the dataset_info.json entry LLaMA-Factory needs:\n${JSON.stringify(entry)}`);
  } finally {
    bar.stop();
  }
}
