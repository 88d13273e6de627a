import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import hnswlib from 'hnswlib-node';
import type { Dialogue } from '../corpus/types.js';
import { CorpusSourceError } from '../errors.js';
import { project, projectedDim, type Projection } from '../embed/projection.js';
import type { Embedder } from '../embed/types.js';
import { overCap } from '../embed/text-cap.js';
import { lengthSortedCalls } from '../embed/use-lite.js';
import { labelScheme } from '../corpus/labels.js';
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
   * Progress of each phase in turn, so that none is silent: `embedding` (utterances), `choosing the space`
   * (statistics, cross-validation and fits, step by step; only with a projection to fit), `graph` (rows inserted
   * into HNSW after a projection; without one they go in while embedding) and `writing` (files and checksums).
   */
  onProgress?: (done: number, total: number, phase: BuildPhase) => void;
  /**
   * The index's label set (the unified space of a pool), in order; default: the corpus' own scheme where it is a known
   * corpus using its own names, else the labels seen.
   */
  labels?: readonly string[];
  /** Where a pooled or sampled index came from, kept in the manifest. */
  provenance?: Partial<Pick<Manifest, 'label_space' | 'sources' | 'label_map' | 'sample'>>;
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

function writeMetadata(file: string, dialogues: readonly Dialogue[], folds: ReadonlyMap<string, number>, onRows: (done: number) => void): void {
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
        if (id % ROWS_PER_REPORT === 0) onRows(id);
      }
    }
  })();
  db.exec('CREATE INDEX utterances_dialogue ON utterances (dialogue)');
  db.close();
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

/**
 * Embeds every turn and writes an index directory (HNSW graph, the searched vectors, SQLite metadata, the learned
 * projection if any, manifest). The
 * directory is built beside `out` under a temporary name and renamed into place only when complete, so an
 * interrupted build never leaves a half index where a good one was.
 */
export async function buildIndex(options: BuildOptions): Promise<Manifest> {
  const started = performance.now();
  const out = resolve(options.out);
  const { embedder, dialogues } = options;
  const batchSize = options.batchSize ?? 1024;
  const hnsw: HnswParams = { ...DEFAULT_HNSW, ...options.hnsw, space: 'cosine' };
  const texts = dialogues.flatMap((d) => d.turns.map((t) => t.text));
  if (texts.length === 0) throw new CorpusSourceError('CORPUS_EMPTY', 'nothing to index: the corpus has no utterances in the chosen split(s)');

  assertBuildableOut(out);
  mkdirSync(dirname(out), { recursive: true });
  recoverInterruptedBuilds(out);
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp);
  try {
    const foldCount = options.folds ?? DEFAULT_FOLDS;
    // Each corpus of a pool is dealt across the folds on its own, so every fold holds a share of each.
    const corpusOf = new Map(dialogues.map((d) => [d.id, d.corpus]));
    const folds = assignFolds(dialogues.map((d) => d.id), foldCount, DEFAULT_FOLD_SEED, (id) => corpusOf.get(id)!);
    options.onProgress?.(0, texts.length, 'metadata');
    writeMetadata(join(tmp, FILES.meta), dialogues, folds, (done) => options.onProgress?.(done, texts.length, 'metadata'));
    options.onProgress?.(texts.length, texts.length, 'metadata');
    const fitsSpace = options.projection !== undefined && options.projection.kind !== 'none';

    // Without a projection vectors stream to disk batch by batch (memory: one batch plus the HNSW graph); with one,
    // all raw vectors are needed to fit it first, and the graph is made for the projected dimension after.
    const raw: Float32Array[] = [];
    let index = fitsSpace ? undefined : newGraph(embedder.dim, texts.length, hnsw);
    const vectorsFd = openSync(join(tmp, FILES.vectors), 'w');
    const store = (v: Float32Array, id: number) => {
      index!.addPoint(Array.from(v), id);
      // Positional write: batches arrive in length order, not id order.
      writeSync(vectorsFd, new Uint8Array(v.buffer, v.byteOffset, v.byteLength), 0, v.byteLength, id * v.byteLength);
    };
    let space: FittedSpace = { decision: { method: 'forced', reason: '--projection none' } };
    try {
      // Chunks of similar length (an embedder that pads pads a call to its longest sentence), up to batchSize
      // utterances queued at the embedder's threads while the chunk that returned goes into the graph on the main
      // thread; progress after each chunk.
      let done = 0;
      const chunks = lengthSortedCalls(texts, Math.min(batchSize, EMBED_CHUNK));
      const window = Math.max(2, Math.ceil(batchSize / EMBED_CHUNK));
      const pending: Promise<Float32Array[]>[] = [];
      let submitted = 0;
      const submit = () => {
        while (pending.length < window && submitted < chunks.length) {
          const promise = embedder.embed(chunks[submitted++].map((id) => texts[id]));
          promise.catch(() => {}); // awaited below; this only stops an early failure counting as unhandled
          pending.push(promise);
        }
      };
      options.onProgress?.(0, texts.length, 'embedding');
      submit();
      for (const chunk of chunks) {
        const vectors = await pending.shift()!;
        submit();
        vectors.forEach((v, n) => {
          if (v.length !== embedder.dim) throw new Error(`embedder returned ${v.length} dims, expected ${embedder.dim}`);
          if (fitsSpace) raw[chunk[n]] = v;
          else store(v, chunk[n]);
        });
        done += chunk.length;
        options.onProgress?.(done, texts.length, 'embedding');
        // Let timers and I/O run between chunks (progress output, a server answering while it builds).
        await new Promise((r) => setImmediate(r));
      }
      if (fitsSpace) {
        const rowLabels = dialogues.flatMap((d) => d.turns.map((t) => t.labels[0]));
        const rowFolds = dialogues.flatMap((d) => d.turns.map(() => folds.get(d.id)!));
        space = await fitSpace(options.projection!, {
          vectors: raw, labels: rowLabels, folds: rowFolds, foldCount, candidates: options.spaceCandidates, cvHeldOutRows: options.cvHeldOutRows,
          corpora: dialogues.flatMap((d) => d.turns.map(() => d.corpus)),
          multiLabel: labelScheme(options.corpus)?.multiLabel ?? dialogues.some((d) => d.turns.some((t) => t.labels.length > 1)),
          onProgress: (done, total) => options.onProgress?.(done, total, 'choosing the space'),
        });
        const { projection } = space;
        index = newGraph(projection ? projectedDim(projection) : embedder.dim, texts.length, hnsw);
        for (let i = 0; i < raw.length; i++) {
          store(projection ? project(projection, raw[i]) : raw[i], i);
          if ((i + 1) % GRAPH_CHUNK === 0 || i + 1 === raw.length) {
            options.onProgress?.(i + 1, raw.length, 'graph');
            await new Promise((r) => setImmediate(r));
          }
        }
        if (projection) writeFileSync(join(tmp, FILES.projection), Buffer.concat([f32Bytes(projection.mean), f32Bytes(projection.weights)]));
        if (space.foldProjections) {
          const total = space.foldProjections.length * raw.length;
          const report = (done: number) => options.onProgress?.(done, total, 'cross-fit spaces');
          report(0);
          writeFileSync(join(tmp, FILES.crossFit), crossFitBytes(space.foldProjections, raw, report));
          report(total);
        }
      }
    } finally {
      closeSync(vectorsFd);
    }
    const written = [FILES.hnsw, FILES.vectors, FILES.meta, ...(space.projection ? [FILES.projection] : []), ...(space.foldProjections ? [FILES.crossFit] : [])];
    options.onProgress?.(0, written.length + 1, 'writing');
    index!.writeIndexSync(join(tmp, FILES.hnsw));
    options.onProgress?.(1, written.length + 1, 'writing');

    const labelCounts: Record<string, number> = {};
    for (const d of dialogues) for (const t of d.turns) for (const l of t.labels) labelCounts[l] = (labelCounts[l] ?? 0) + 1;
    // A known corpus whose files use its own names lists them in its order (kept even where these splits lack
    // one); otherwise (a user corpus, or IEMOCAP's 3-letter codes) the labels seen, sorted.
    const scheme = labelScheme(options.corpus);
    const seen = Object.keys(labelCounts).sort();
    const labels = options.labels ? [...options.labels] : scheme && seen.every((l) => scheme.own.includes(l)) ? [...scheme.own] : seen;
    const checksums: Record<string, string> = {};
    const { projection, foldProjections, decision } = space;
    for (const [n, file] of written.entries()) {
      checksums[file] = await sha256File(join(tmp, file));
      options.onProgress?.(n + 2, written.length + 1, 'writing');
    }
    const manifest: Manifest = {
      format_version: INDEX_FORMAT_VERSION,
      name: options.name ?? basename(out),
      embedder: { id: embedder.id, dim: embedder.dim, fingerprint: embedder.fingerprint ?? null, max_chars: embedder.maxChars ?? null },
      corpus: options.corpus,
      splits: [...options.splits],
      count: texts.length,
      labels,
      label_counts: labelCounts,
      multi_label: scheme?.multiLabel ?? dialogues.some((d) => d.turns.some((t) => t.labels.length !== 1)),
      context_window: 0,
      projection: projection ? { kind: 'lda', dim_in: projection.dimIn, dim_out: projection.dimOut, shrinkage: projection.shrinkage, blend: projection.blend } : null,
      space_selection: decision,
      cross_fit: foldProjections ? { folds: foldCount, seed: DEFAULT_FOLD_SEED, dims: foldProjections.map((p) => p.dimOut) } : null,
      hnsw,
      label_space: options.provenance?.label_space ?? 'native',
      sources: options.provenance?.sources ?? null,
      label_map: options.provenance?.label_map ?? null,
      sample: options.provenance?.sample ?? null,
      built_at: new Date().toISOString(),
      build_seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
      skipped_rows: options.skippedRows ?? 0,
      truncated_rows: embedder.maxChars === undefined ? 0 : texts.filter((t) => overCap(t, embedder.maxChars!)).length,
      checksums,
    };
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    writeFileSync(join(tmp, FILES.manifest), manifestBytes);
    writeFileSync(join(tmp, FILES.manifestSum), manifestSumLine(manifestBytes));

    // Swap in: the old index (if any) moves aside first, since rename cannot replace a non-empty directory.
    const old = `${out}.tmp-${process.pid}-old`;
    assertBuildableOut(out); // again: something may have appeared there while we built
    if (existsSync(out)) renameSync(out, old);
    renameSync(tmp, out);
    rmSync(old, { recursive: true, force: true });
    return manifest;
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}
