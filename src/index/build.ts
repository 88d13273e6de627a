import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import hnswlib from 'hnswlib-node';
import type { Dialogue } from '../corpus/types.js';
import { CorpusSourceError } from '../errors.js';
import { project, projectedDim, type Projection } from '../embed/projection.js';
import type { Embedder } from '../embed/types.js';
import { overCap } from '../embed/text-cap.js';
import { lengthSortedCalls } from '../embed/calls.js';
import { labelScheme } from '../corpus/labels.js';
import { ownRecord } from '../corpus/own-keys.js';
import { seededShuffle } from '../random.js';
import { assignFolds, DEFAULT_FOLD_SEED, DEFAULT_FOLDS } from './folds.js';
import { assertBuildableOut } from './out-guard.js';
import { recoverInterruptedBuilds } from './recover.js';
import { fitSpace, ldaPart, type FittedSpace, type SpaceRequest } from './space.js';
import type { SpaceCandidate } from './choose-space.js';
import { FILES, INDEX_FORMAT_VERSION, manifestSumLine, sha256File, type HnswParams, type Manifest } from './manifest.js';

/** Chosen on MELD and EmoryNLP dev (docs/RETRIEVAL-QUALITY.md). */
export const DEFAULT_LDA_SHRINKAGE = 0.1;
export const DEFAULT_LDA_BLEND = 0.4;

export const DEFAULT_HNSW: HnswParams = { space: 'cosine', M: 16, efConstruction: 200, efSearch: 128, seed: 100 };

export type BuildPhase = 'metadata' | 'embedding' | 'choosing the space' | 'graph' | 'cross-fit spaces' | 'writing';

/**
 * Utterances per embedder request while building: progress is reported as each one returns. Up to `batchSize`
 * utterances are queued at once, so the embedder's threads never wait between requests.
 */
const EMBED_CHUNK = 256;
/** Rows inserted into the graph between progress reports (and turns of the event loop) after a projection. */
const GRAPH_CHUNK = 1000;

export interface BuildOptions {
  dialogues: readonly Dialogue[];
  corpus: string;
  splits: readonly string[];
  embedder: Embedder;
  out: string;
  name?: string;
  batchSize?: number;
  hnsw?: Partial<Omit<HnswParams, 'space'>>;
  skippedRows?: number;
  /**
   * The space searched (default none: the raw embedding): `auto` chooses by cross-validation on these rows' labels,
   * `lda` forces a projection; either way it is fitted here, stored with the index and applied to queries.
   */
  projection?: SpaceRequest;
  /** Folds of the dialogue-grouped cross-validation and cross-fitting (default DEFAULT_FOLDS). */
  folds?: number;
  /** The spaces `auto` chooses among (default DEFAULT_SPACE_CANDIDATES). */
  spaceCandidates?: readonly SpaceCandidate[];
  /** Held-out rows each cross-validation fold scores, at most (DEFAULT_CV_HELD_OUT_ROWS; ERC_DEMOS_CV_HELD_OUT_ROWS). */
  cvHeldOutRows?: number;
  /**
   * Rows the space is chosen and fitted on, at most (DEFAULT_SPACE_FIT_ROWS; ERC_DEMOS_SPACE_FIT_ROWS; 0: all): a larger
   * corpus is represented by a seeded sample of whole dialogues (spaceSampleRows).
   */
  spaceFitRows?: number;
  /**
   * Progress of each phase in turn, so that none is silent: `metadata` (rows into SQLite), `embedding` (utterances),
   * `choosing the space` (statistics, cross-validation and fits, step by step; only with a projection to fit),
   * `graph` (rows inserted into HNSW after a projection; without one they go in while embedding), `cross-fit spaces`
   * (every row in each fold's space, when cross-fitted) and `writing` (files and checksums).
   */
  onProgress?: (done: number, total: number, phase: BuildPhase) => void;
  /**
   * The index's label set (the unified space of a pool), in order; default: the corpus' own scheme where it is a known
   * corpus using its own names, else the labels seen.
   */
  labels?: readonly string[];
  /** Where a pooled or sampled index came from, kept in the manifest. */
  provenance?: Partial<Pick<Manifest, 'label_space' | 'sources' | 'label_map' | 'sample'>>;
  /**
   * Puts the finished directory `tmp` in place by calling `swapIn` (default: at once). A compaction calls it while it
   * holds the old index's write lock, after carrying the writes made during the build into `tmp`.
   */
  swap?: (tmp: string, swapIn: () => void) => void;
}

function newGraph(dim: number, count: number, hnsw: HnswParams): hnswlib.HierarchicalNSW {
  const index = new hnswlib.HierarchicalNSW('cosine', dim);
  index.initIndex({ maxElements: count, m: hnsw.M, efConstruction: hnsw.efConstruction, randomSeed: hnsw.seed });
  return index;
}

function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Rows written (or fold-space rows computed) between progress reports: a 1M-row corpus is not silent for long. */
const ROWS_PER_REPORT = 50_000;

/** Each corpus of a pool is dealt across the folds on its own, so every fold holds a share of each. */
function assignDialogueFolds(dialogues: readonly Dialogue[], foldCount: number): Map<string, number> {
  const corpusOf = new Map(dialogues.map((d) => [d.id, d.corpus]));
  return assignFolds(dialogues.map((d) => d.id), foldCount, DEFAULT_FOLD_SEED, (id) => corpusOf.get(id)!);
}

/** The rows' text, labels, dialogue and fold in SQLite (progress every ROWS_PER_REPORT rows). */
function writeMetadata(file: string, dialogues: readonly Dialogue[], folds: ReadonlyMap<string, number>, report: (done: number, total: number, phase: 'metadata') => void): void {
  const total = dialogues.reduce((n, d) => n + d.turns.length, 0);
  report(0, total, 'metadata');
  const db = new Database(file);
  db.pragma('journal_mode = DELETE');
  db.exec(`CREATE TABLE utterances (
    id INTEGER PRIMARY KEY, corpus TEXT NOT NULL, split TEXT NOT NULL, dialogue TEXT NOT NULL,
    turn INTEGER NOT NULL, speaker TEXT NOT NULL, text TEXT NOT NULL, labels TEXT NOT NULL, scores TEXT, source_id TEXT,
    fold INTEGER NOT NULL, source_labels TEXT)`);
  const insert = db.prepare(
    'INSERT INTO utterances (id, corpus, split, dialogue, turn, speaker, text, labels, scores, source_id, fold, source_labels) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  db.transaction(() => {
    let id = 0;
    for (const d of dialogues) {
      for (const t of d.turns) {
        insert.run(id++, d.corpus, d.split, d.id, t.index, t.speaker, t.text, JSON.stringify(t.labels), t.scores ? JSON.stringify(t.scores) : null, t.sourceId ?? null, folds.get(d.id)!,
          t.sourceLabels ? JSON.stringify(t.sourceLabels) : null);
        if (id % ROWS_PER_REPORT === 0) report(id, total, 'metadata');
      }
    }
  })();
  db.exec('CREATE INDEX utterances_dialogue ON utterances (dialogue)');
  db.close();
  report(total, total, 'metadata');
}

/**
 * The cross-fitted spaces as stored: per fold, its projection's mean and weights, then every row's LDA part in that
 * fold's space (unit vectors; the raw part of a row is in the index's own vectors).
 */
function crossFitBytes(folds: readonly Projection[], raw: readonly Float32Array[], onRows: (done: number) => void): Buffer {
  let done = 0;
  return Buffer.concat(folds.flatMap((p) => [f32Bytes(p.mean), f32Bytes(p.weights), ...raw.map((v) => {
    if (++done % ROWS_PER_REPORT === 0) onRows(done);
    return f32Bytes(ldaPart(p, v));
  })]));
}

type Report = (done: number, total: number, phase: BuildPhase) => void;

/** What every embedding pass of one build shares: the texts, the embedder, and the count of rows embedded so far. */
interface EmbedJob {
  embedder: Embedder;
  texts: readonly string[];
  batchSize: number;
  embedded: number;
}

/**
 * Embeds the rows `ids` of `job.texts` in chunks of similar length (an embedder that pads pads a call to its longest
 * sentence), up to `batchSize` utterances queued at the embedder's threads while the chunk that returned is handed
 * to `take` on the main thread; `progress` after each chunk, with the rows embedded so far in the whole build.
 */
async function embedAll(job: EmbedJob, ids: readonly number[], take: (v: Float32Array, id: number) => void, progress: (embedded: number) => void): Promise<void> {
  const { embedder, texts, batchSize } = job;
  const chunks = lengthSortedCalls(ids.map((id) => texts[id]), Math.min(batchSize, EMBED_CHUNK)).map((chunk) => chunk.map((at) => ids[at]));
  const window = Math.max(2, Math.ceil(batchSize / EMBED_CHUNK));
  const pending: Promise<Float32Array[]>[] = [];
  let submitted = 0;
  const submit = () => {
    while (pending.length < window && submitted < chunks.length) {
      // Fixed calls: which utterances share an embedder call depends only on the chunk, so two builds write the same vectors.
      const promise = embedder.embed(chunks[submitted++].map((id) => texts[id]), { fixedCalls: true });
      promise.catch(() => {}); // awaited below; this only stops an early failure counting as unhandled
      pending.push(promise);
    }
  };
  submit();
  for (const chunk of chunks) {
    const vectors = await pending.shift()!;
    submit();
    vectors.forEach((v, n) => {
      if (v.length !== embedder.dim) throw new Error(`embedder returned ${v.length} dims, expected ${embedder.dim}`);
      take(v, chunk[n]);
    });
    job.embedded += chunk.length;
    progress(job.embedded);
    // Let timers and I/O run between chunks (progress output, a server answering while it builds).
    await new Promise((r) => setImmediate(r));
  }
}

/** The graph and the searched vectors, written as rows arrive (the vectors file by position: rows come in length order). */
class GraphWriter {
  private graph: hnswlib.HierarchicalNSW | undefined;
  private readonly vectorsFd: number;

  constructor(vectorsFile: string, private readonly rows: number, private readonly hnsw: HnswParams) {
    this.vectorsFd = openSync(vectorsFile, 'w');
  }

  /** Starts the graph for vectors of `dim` (after a projection, its dimension). */
  start(dim: number): void {
    this.graph = newGraph(dim, this.rows, this.hnsw);
  }

  add(v: Float32Array, id: number): void {
    this.graph!.addPoint(Array.from(v), id);
    writeSync(this.vectorsFd, new Uint8Array(v.buffer, v.byteOffset, v.byteLength), 0, v.byteLength, id * v.byteLength);
  }

  /** Closes the vectors file; writes the graph to `file` when given (a failed build only closes). */
  finish(file?: string): void {
    closeSync(this.vectorsFd);
    if (file) this.graph!.writeIndexSync(file);
  }
}

/** Seed of the sample of dialogues a large corpus's space is chosen and fitted on. */
export const SPACE_SAMPLE_SEED = 1;
/** Rows a space is chosen and fitted on, at most (setting ERC_DEMOS_SPACE_FIT_ROWS). */
export const DEFAULT_SPACE_FIT_ROWS = 20_000;

/** The sample of whole dialogues a space was fitted on (manifest `space_sample`). */
export interface SpaceSample { rows: number; of: number; dialogues: number; seed: number }

/** Whether a corpus of `rows` has its space chosen and fitted on a sample (more rows than a cap other than 0). */
export function fitsSpaceOnSample(rows: number, cap: number): boolean {
  return cap > 0 && rows > cap;
}

/**
 * Rows (ids, ascending) of a seeded sample of whole dialogues holding at least `cap` rows (the last dialogue taken
 * may pass it), or undefined where the corpus has at most `cap` rows or `cap` is 0: then every row is used.
 */
export function spaceSampleRows(dialogues: readonly Dialogue[], cap: number, seed = SPACE_SAMPLE_SEED): { rows: number[]; dialogues: number } | undefined {
  if (!fitsSpaceOnSample(dialogues.reduce((n, d) => n + d.turns.length, 0), cap)) return undefined;
  const firstRow = new Map<string, { at: number; turns: number }>();
  let at = 0;
  for (const d of dialogues) {
    firstRow.set(d.id, { at, turns: d.turns.length });
    at += d.turns.length;
  }
  const rows: number[] = [];
  let taken = 0;
  for (const id of seededShuffle(firstRow.keys(), seed)) {
    if (rows.length >= cap) break;
    const { at: from, turns } = firstRow.get(id)!;
    for (let r = from; r < from + turns; r++) rows.push(r);
    taken++;
  }
  return { rows: rows.sort((a, b) => a - b), dialogues: taken };
}

/**
 * Embeds every row and fits the space searched (LDA by cross-validation or forced), then puts every row, projected,
 * into the graph; writes the projection and the cross-fit spaces beside it. Where the corpus has more rows than
 * `spaceFitRows`, the space is chosen and fitted on a sample of whole dialogues embedded first, and the other rows
 * go into the graph as they are embedded, so the graph's single thread works while the embedder's threads do.
 */
async function embedAndFit(options: BuildOptions, job: EmbedJob, folds: ReadonlyMap<string, number>, foldCount: number, graph: GraphWriter, tmp: string, report: Report): Promise<{ space: FittedSpace; sample: SpaceSample | null }> {
  const { dialogues } = options;
  const { texts } = job;
  const raw: Float32Array[] = new Array(texts.length);
  const sampled = spaceSampleRows(dialogues, options.spaceFitRows ?? DEFAULT_SPACE_FIT_ROWS);
  const first = sampled?.rows ?? texts.map((_, id) => id);
  report(0, first.length, 'embedding');
  await embedAll(job, first, (v, id) => (raw[id] = v), (done) => report(done, first.length, 'embedding'));

  // The rest embeds while the space is chosen; its rows wait, then go straight into the graph once it exists, in the
  // order they were embedded (chunk by chunk), whatever the timing: the graph depends on its insertion order.
  let intoGraph: ((v: Float32Array, id: number) => void) | undefined;
  const waiting: number[] = [];
  const inSample = sampled ? new Set(first) : undefined;
  const rest = inSample
    ? embedAll(job, texts.flatMap((_, id) => (inSample.has(id) ? [] : [id])), (v, id) => {
      raw[id] = v;
      if (intoGraph) intoGraph(v, id);
      else waiting.push(id);
    }, () => {})
    : Promise.resolve();
  rest.catch(() => {}); // awaited below; a failure meanwhile is not unhandled

  const rowsOf = <T>(f: (d: Dialogue, t: Dialogue['turns'][number]) => T) => dialogues.flatMap((d) => d.turns.map((t) => f(d, t)));
  const pick = <T>(all: readonly T[]) => (sampled ? first.map((id) => all[id]) : all);
  const space = await fitSpace(options.projection!, {
    vectors: pick(raw), labels: pick(rowsOf((_, t) => t.labels[0])), folds: pick(rowsOf((d) => folds.get(d.id)!)), foldCount,
    candidates: options.spaceCandidates, cvHeldOutRows: options.cvHeldOutRows, corpora: pick(rowsOf((d) => d.corpus)),
    multiLabel: labelScheme(options.corpus)?.multiLabel ?? dialogues.some((d) => d.turns.some((t) => t.labels.length > 1)),
    onProgress: (done, total) => report(done, total, 'choosing the space'),
  });

  const { projection, foldProjections } = space;
  graph.start(projection ? projectedDim(projection) : options.embedder.dim);
  let added = 0;
  const add = (v: Float32Array, id: number) => {
    graph.add(projection ? project(projection, v) : v, id);
    if (++added % GRAPH_CHUNK === 0 || added === texts.length) report(added, texts.length, 'graph');
  };
  report(0, texts.length, 'graph');
  // The sample first, then the rest in the order embedded: rows that arrive while this loop yields join `waiting`
  // behind those already there, and only once it is drained do new rows go straight in (in the same turn).
  for (let n = 0; n < first.length + waiting.length; n++) {
    const id = n < first.length ? first[n] : waiting[n - first.length];
    add(raw[id], id);
    if ((n + 1) % GRAPH_CHUNK === 0) await new Promise((r) => setImmediate(r));
  }
  intoGraph = add;
  await rest;

  if (projection) writeFileSync(join(tmp, FILES.projection), Buffer.concat([f32Bytes(projection.mean), f32Bytes(projection.weights)]));
  if (foldProjections) {
    const total = foldProjections.length * raw.length;
    report(0, total, 'cross-fit spaces');
    writeFileSync(join(tmp, FILES.crossFit), crossFitBytes(foldProjections, raw, (done) => report(done, total, 'cross-fit spaces')));
    report(total, total, 'cross-fit spaces');
  }
  return { space, sample: sampled ? { rows: first.length, of: texts.length, dialogues: sampled.dialogues, seed: SPACE_SAMPLE_SEED } : null };
}

/** Checksums of the written files (progress per file, after the graph's own write). */
async function checksumsOf(tmp: string, files: readonly string[], report: Report): Promise<Record<string, string>> {
  const checksums: Record<string, string> = {};
  for (const [n, file] of files.entries()) {
    checksums[file] = await sha256File(join(tmp, file));
    report(n + 2, files.length + 1, 'writing');
  }
  return checksums;
}

/**
 * The index's label set: a known corpus whose files use its own names lists them in its order (kept even where
 * these splits lack one); otherwise (a user corpus, or IEMOCAP's 3-letter codes) the labels seen, sorted.
 */
function indexLabels(options: BuildOptions, labelCounts: ReadonlyMap<string, number>): string[] {
  if (options.labels) return [...options.labels];
  const scheme = labelScheme(options.corpus);
  const seen = [...labelCounts.keys()].sort();
  return scheme && seen.every((l) => scheme.own.includes(l)) ? [...scheme.own] : seen;
}

function manifestOf(options: BuildOptions, texts: readonly string[], hnsw: HnswParams, space: FittedSpace, sample: SpaceSample | null, foldCount: number, checksums: Record<string, string>, seconds: number): Manifest {
  const { dialogues, embedder } = options;
  // Counted in a Map: labels are the corpus' own names, and `constructor` or `__proto__` is a label like any other.
  const labelCounts = new Map<string, number>();
  for (const d of dialogues) for (const t of d.turns) for (const l of t.labels) labelCounts.set(l, (labelCounts.get(l) ?? 0) + 1);
  const { projection, foldProjections, decision } = space;
  return {
    format_version: INDEX_FORMAT_VERSION,
    name: options.name ?? basename(resolve(options.out)),
    embedder: { id: embedder.id, dim: embedder.dim, fingerprint: embedder.fingerprint ?? null, max_chars: embedder.maxChars ?? null },
    corpus: options.corpus,
    splits: [...options.splits],
    count: texts.length,
    labels: indexLabels(options, labelCounts),
    label_counts: ownRecord(labelCounts),
    multi_label: labelScheme(options.corpus)?.multiLabel ?? dialogues.some((d) => d.turns.some((t) => t.labels.length !== 1)),
    context_window: 0,
    projection: projection ? { kind: 'lda', dim_in: projection.dimIn, dim_out: projection.dimOut, shrinkage: projection.shrinkage, blend: projection.blend } : null,
    space_selection: decision,
    cross_fit: foldProjections ? { folds: foldCount, seed: DEFAULT_FOLD_SEED, dims: foldProjections.map((p) => p.dimOut) } : null,
    hnsw,
    label_space: options.provenance?.label_space ?? 'native',
    sources: options.provenance?.sources ?? null,
    label_map: options.provenance?.label_map ?? null,
    sample: options.provenance?.sample ?? null,
    space_sample: sample,
    built_at: new Date().toISOString(),
    build_seconds: Number(seconds.toFixed(3)),
    skipped_rows: options.skippedRows ?? 0,
    truncated_rows: embedder.maxChars === undefined ? 0 : texts.filter((t) => overCap(t, embedder.maxChars!)).length,
    checksums,
  };
}

function writeManifest(tmp: string, manifest: Manifest): void {
  const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(tmp, FILES.manifest), bytes);
  writeFileSync(join(tmp, FILES.manifestSum), manifestSumLine(bytes));
}

/** Moves the finished directory into place; the old index (if any) moves aside first, since rename cannot replace a non-empty directory. */
function swapIn(tmp: string, out: string): void {
  const old = `${out}.tmp-${process.pid}-old`;
  assertBuildableOut(out); // again: something may have appeared there while we built
  if (existsSync(out)) renameSync(out, old);
  renameSync(tmp, out);
  rmSync(old, { recursive: true, force: true });
}

/**
 * Embeds every turn and writes an index directory (HNSW graph, the searched vectors, SQLite metadata, the learned
 * projection if any, manifest). The directory is built beside `out` under a temporary name and renamed into place
 * only when complete, so an interrupted build never leaves a half index where a good one was.
 */
export async function buildIndex(options: BuildOptions): Promise<Manifest> {
  const started = performance.now();
  const out = resolve(options.out);
  const texts = options.dialogues.flatMap((d) => d.turns.map((t) => t.text));
  if (texts.length === 0) throw new CorpusSourceError('CORPUS_EMPTY', 'nothing to index: the corpus has no utterances in the chosen split(s)');
  const report: Report = (done, total, phase) => options.onProgress?.(done, total, phase);
  const hnsw: HnswParams = { ...DEFAULT_HNSW, ...options.hnsw, space: 'cosine' };

  assertBuildableOut(out);
  mkdirSync(dirname(out), { recursive: true });
  recoverInterruptedBuilds(out);
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp);
  try {
    const foldCount = options.folds ?? DEFAULT_FOLDS;
    const folds = assignDialogueFolds(options.dialogues, foldCount);
    writeMetadata(join(tmp, FILES.meta), options.dialogues, folds, report);

    // Without a space to fit, vectors go to the graph and to disk as they arrive (memory: the graph and a window of
    // chunks); with one, all raw vectors are kept to fit it first, and the graph is made for its dimension after.
    const graph = new GraphWriter(join(tmp, FILES.vectors), texts.length, hnsw);
    let space: FittedSpace = { decision: { method: 'forced', reason: '--projection none' } };
    let sample: SpaceSample | null = null;
    const job: EmbedJob = { embedder: options.embedder, texts, batchSize: options.batchSize ?? 1024, embedded: 0 };
    try {
      if (options.projection !== undefined && options.projection.kind !== 'none') {
        ({ space, sample } = await embedAndFit(options, job, folds, foldCount, graph, tmp, report));
      } else {
        graph.start(options.embedder.dim);
        report(0, texts.length, 'embedding');
        await embedAll(job, texts.map((_, id) => id), (v, id) => graph.add(v, id), (done) => report(done, texts.length, 'embedding'));
      }
    } catch (error) {
      graph.finish();
      throw error;
    }
    const files = [FILES.hnsw, FILES.vectors, FILES.meta, ...(space.projection ? [FILES.projection] : []), ...(space.foldProjections ? [FILES.crossFit] : [])];
    report(0, files.length + 1, 'writing');
    graph.finish(join(tmp, FILES.hnsw));
    report(1, files.length + 1, 'writing');
    const checksums = await checksumsOf(tmp, files, report);
    const manifest = manifestOf(options, texts, hnsw, space, sample, foldCount, checksums, (performance.now() - started) / 1000);
    writeManifest(tmp, manifest);
    (options.swap ?? ((_, swap) => swap()))(tmp, () => swapIn(tmp, out));
    return manifest;
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}
