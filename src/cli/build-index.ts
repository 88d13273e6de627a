import { resolve } from 'node:path';
import type { CorpusFormat } from '../corpus/load.js';
import { readLabelMapFile } from '../corpus/label-map.js';
import { sampleDialogues, type SampleSpec } from '../corpus/sample.js';
import { loadSources, type LabelSpace, type SourceSpec, type SourceSummary } from '../corpus/sources.js';
import type { Dialogue } from '../corpus/types.js';
import { UNIFIED_LABELS } from '../corpus/labels.js';
import { createEmbedder } from '../embed/create.js';
import { buildIndex, DEFAULT_HNSW, DEFAULT_LDA_BLEND, DEFAULT_LDA_SHRINKAGE, fitsSpaceOnSample } from '../index/build.js';
import { candidateName } from '../index/choose-space.js';
import type { Manifest } from '../index/manifest.js';
import type { SpaceRequest } from '../index/space.js';
import { progressBar } from './progress.js';
import { charCount } from '../chars.js';
import { overCap } from '../embed/text-cap.js';
import { writesSinceBuild } from '../writes/log.js';
import { OutputRefusedError } from '../errors.js';
import { assertBuildableOut } from '../index/out-guard.js';
import { InputError } from '../errors.js';
import { settingsFromEnv, type Settings } from '../settings.js';

export interface BuildCommandOptions {
  /** Replace an --out index that has writes since its build, dropping them (else refused). */
  discardWrites?: boolean;
  /** The corpora to pool (`--source`); or one corpus by format, data and corpusName. */
  sources?: SourceSpec[];
  format?: CorpusFormat;
  data?: string;
  splits: string[];
  embedder: string;
  out: string;
  name?: string;
  corpusName?: string;
  batchSize: number;
  M?: number;
  efConstruction?: number;
  efSearch?: number;
  /** auto: chosen by cross-validation on the training labels (any single-label corpus); none; lda (forced). */
  projection?: 'auto' | 'none' | 'lda';
  ldaShrinkage?: number;
  ldaBlend?: number;
  /** Default: native for one source, unified for several or with a label map. */
  labelSpace?: LabelSpace;
  /** A `--label-map` JSON file: {corpus: {label: unified label}}. */
  labelMapFile?: string;
  /** Load a `--data` file whose name says another split as `--split`, on purpose (`--relabel-split`; else refused). */
  relabelSplit?: boolean;
  /** Index only a sample of whole dialogues (data scaling), recorded in the manifest. */
  sample?: SampleSpec;
  /** Default: from the environment (this is a door). */
  settings?: Settings;
}

/** Each source's counts as indexed (a sample holds fewer than were loaded). */
function indexedSources(sources: readonly SourceSummary[], dialogues: readonly Dialogue[]): SourceSummary[] {
  return sources.map((s) => {
    const mine = dialogues.filter((d) => d.corpus === s.corpus);
    return { ...s, dialogues: mine.length, utterances: mine.reduce((n, d) => n + d.turns.length, 0) };
  });
}

/** The sources a build or an export names: `--source`s, or the one of `--corpus/--data`. */
export function sourceSpecs(o: Pick<BuildCommandOptions, 'sources' | 'format' | 'data' | 'corpusName'>): SourceSpec[] {
  if (o.sources?.length) {
    if (o.format || o.data) throw new InputError('source', 'give either --source (repeatable) or --corpus with --data, not both');
    return o.sources;
  }
  if (!o.format || !o.data) throw new InputError('source', 'give --source <format>:<path>[:<corpus-name>] (repeatable), or --corpus <format> with --data <path>');
  return [{ format: o.format, data: o.data, ...(o.corpusName ? { name: o.corpusName } : {}) }];
}

/** `--lda-blend` or `--lda-shrinkage` force LDA as `--projection lda` does; `auto` leaves the choice to the data. */
export function spaceRequest(o: Pick<BuildCommandOptions, 'projection' | 'ldaShrinkage' | 'ldaBlend'>): SpaceRequest {
  const choice = o.projection ?? 'auto';
  if (choice === 'none') return { kind: 'none' };
  if (choice === 'lda' || o.ldaBlend !== undefined || o.ldaShrinkage !== undefined) {
    return { kind: 'lda', shrinkage: o.ldaShrinkage ?? DEFAULT_LDA_SHRINKAGE, blend: o.ldaBlend ?? DEFAULT_LDA_BLEND };
  }
  return { kind: 'auto' };
}

/** The build's account of its space: the cross-validation table and verdict, or why there was none. */
export function describeSpace(manifest: Manifest): string[] {
  const s = manifest.space_selection;
  if (!s) return [];
  const sample = manifest.space_sample;
  const fittedOn = sample ? [`  fitted on ${sample.rows} of ${sample.of} utterances (${sample.dialogues} whole dialogues, seed ${sample.seed}; ERC_DEMOS_SPACE_FIT_ROWS), embedded first; the rest went into the graph as they were embedded`] : [];
  if (s.method !== 'cross-validation') return [`space: ${manifest.projection ? 'lda' : 'raw'} (${s.reason})`, ...(manifest.projection ? fittedOn : [])];
  const lines = [`space chosen by ${s.folds}-fold cross-validation by dialogue (kNN k=${s.k}, ${s.seconds}s):`, ...fittedOn, '  candidate            W-F1   precision@10   per fold W-F1'];
  for (const row of s.table) {
    const precision = row.fold_precision.every((p) => p !== null) ? (row.fold_precision.reduce((a, b) => a! + b!, 0)! / row.fold_precision.length).toFixed(2) : '-';
    lines.push(`  ${candidateName(row.candidate).padEnd(18)} ${row.mean_wf1?.toFixed(2).padStart(6) ?? '     -'}   ${precision.padStart(12)}   ${row.fold_wf1.map((x) => x?.toFixed(1) ?? '-').join(' ')}`);
  }
  const held = s.held_out;
  if (held && held.scored.some((n, f) => n < held.rows[f])) {
    lines.push(`  held-out rows scored per fold: ${held.scored.join(' ')} of ${held.rows.join(' ')} (a sample stratified by label${manifest.sources && manifest.sources.length > 1 ? ' and corpus' : ''}; ERC_DEMOS_CV_HELD_OUT_ROWS=${held.cap})`);
  }
  lines.push(`  -> ${candidateName(s.chosen)}: ${s.reason}`);
  if (manifest.cross_fit) lines.push(`  training utterances get demonstrations from their fold's space (${manifest.cross_fit.folds} folds; cross_fit=false turns it off)`);
  return lines;
}

/**
 * Says which utterances the embedder reads only the beginning of (longer than ERC_DEMOS_MAX_EMBED_CHARS): counted
 * here and in the manifest (`truncated_rows`), never cut silently.
 */
function reportTruncated(dialogues: readonly Dialogue[], maxChars: number | undefined): void {
  if (maxChars === undefined) return;
  const over = dialogues.flatMap((d) => d.turns.flatMap((t) => (overCap(t.text, maxChars) ? [{ d, t }] : [])));
  if (over.length === 0) return;
  console.error(`${over.length} utterance${over.length === 1 ? ' is' : 's are'} longer than ERC_DEMOS_MAX_EMBED_CHARS=${maxChars} characters: ` +
    `embedded from the first ${maxChars} (stored whole):`);
  for (const { d, t } of over.slice(0, 20)) console.error(`  ${d.id} turn ${t.index}${t.sourceId ? ` (${t.sourceId})` : ''}: ${charCount(t.text)} characters`);
  if (over.length > 20) console.error(`  ... and ${over.length - 20} more`);
}

/**
 * Loads the sources (checked whole: names, label maps), samples them if asked, reports skipped rows, embeds with a
 * progress bar and writes the index atomically. Every input error comes before any embedding.
 */
export async function runBuild(options: BuildCommandOptions): Promise<Manifest> {
  assertBuildableOut(resolve(options.out)); // before loading and embedding; buildIndex checks again
  const written = writesSinceBuild(resolve(options.out));
  if (written > 0 && !options.discardWrites) {
    throw new OutputRefusedError(resolve(options.out), `holds ${written} write${written === 1 ? '' : 's'} made since its build (added, relabelled or removed dialogues), ` +
      `which a build replacing it would lose: fold them in with \`erc-demos compact --index ${options.out}\`, or give --discard-writes to drop them`);
  }
  const specs = sourceSpecs(options);
  const pool = loadSources(specs, { splits: options.splits, labelSpace: options.labelSpace, labelMap: options.labelMapFile ? readLabelMapFile(options.labelMapFile) : undefined, relabelSplit: options.relabelSplit });
  for (const s of pool.sources) console.error(`loaded ${s.corpus} ${options.splits.join('+')}: ${s.dialogues} dialogues, ${s.utterances} utterances`);
  if (pool.labelSpace === 'unified') console.error(`label space: unified (${UNIFIED_LABELS.join(', ')})`);
  const sampled = options.sample ? sampleDialogues(pool.dialogues, options.sample) : undefined;
  if (sampled) {
    const { record } = sampled;
    const parts = Object.entries(record.per_corpus).map(([c, n]) => `${c} ${n.sampled} of ${n.of}`).join(', ');
    console.error(`sample --fraction ${record.fraction} --mix ${record.mix} --seed ${record.seed}: ${parts} dialogues`);
  }
  const corpus = { corpus: pool.corpus, dialogues: sampled?.dialogues ?? pool.dialogues, skipped: pool.skipped };
  if (corpus.skipped.length > 0) {
    console.error(`skipped ${corpus.skipped.length} rows:`);
    for (const s of corpus.skipped.slice(0, 20)) console.error(`  ${s.file}:${s.line}: ${s.reason}`);
    if (corpus.skipped.length > 20) console.error(`  ... and ${corpus.skipped.length - 20} more`);
  }
  const settings = options.settings ?? settingsFromEnv();
  const embedder = await createEmbedder(options.embedder, 'batch', settings);
  if (embedder.loaded) console.error(`embedder ${embedder.id}: loaded ${embedder.loaded}`);
  if (embedder.description) console.error(`embedder ${embedder.id}: ${embedder.description}`);
  reportTruncated(corpus.dialogues, embedder.maxChars);
  const bar = progressBar(`embedding (${embedder.id})`, {
    metadata: 'writing the metadata', embedding: `embedding (${embedder.id})`, 'choosing the space': 'choosing the space (cross-validation)', graph: 'building the graph',
    'cross-fit spaces': 'cross-fit spaces (each row without its fold)', writing: 'writing the index',
  });
  const utterances = corpus.dialogues.reduce((n, d) => n + d.turns.length, 0);
  if (spaceRequest(options).kind !== 'none' && fitsSpaceOnSample(utterances, settings.spaceFitRows)) {
    console.error(`the space is chosen and fitted on a sample of whole dialogues, about ${settings.spaceFitRows} of ${utterances} utterances (ERC_DEMOS_SPACE_FIT_ROWS): ` +
      'they are embedded first, the rest while the graph is built');
  }
  try {
    const manifest = await buildIndex({
      dialogues: corpus.dialogues,
      corpus: corpus.corpus,
      splits: options.splits,
      embedder,
      out: options.out,
      name: options.name,
      batchSize: options.batchSize,
      skippedRows: corpus.skipped.length,
      projection: spaceRequest(options),
      cvHeldOutRows: settings.cvHeldOutRows,
      spaceFitRows: settings.spaceFitRows,
      hnsw: {
        M: options.M ?? DEFAULT_HNSW.M,
        efConstruction: options.efConstruction ?? DEFAULT_HNSW.efConstruction,
        efSearch: options.efSearch ?? DEFAULT_HNSW.efSearch,
      },
      onProgress: bar.update,
      ...(pool.labelSpace === 'unified' ? { labels: UNIFIED_LABELS } : {}),
      provenance: { label_space: pool.labelSpace, sources: indexedSources(pool.sources, corpus.dialogues), label_map: pool.labelMap, sample: sampled?.record ?? null },
    });
    bar.stop();
    for (const line of describeSpace(manifest)) console.error(line);
    console.error(`wrote ${options.out}: ${manifest.count} utterances in ${manifest.build_seconds}s (${(manifest.count / manifest.build_seconds).toFixed(0)} utterances/s)`);
    return manifest;
  } finally {
    bar.stop();
    await embedder.close?.();
  }
}
