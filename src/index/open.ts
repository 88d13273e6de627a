import { existsSync, fstatSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import hnswlib from 'hnswlib-node';
import { CORPUS_FORMATS } from '../corpus/load.js';
import { IndexLoadError, ServiceClosedError } from '../errors.js';
import { fingerprintDifferences, type EmbedderFingerprint } from '../embed/fingerprint.js';
import { project, projectedDim, type Projection } from '../embed/projection.js';
import { DEFAULT_CROSS_FIT_EF, FoldSpace, type IndexGraph } from './fold-space.js';
import { readGraphLinks, type GraphLinks } from './graph-links.js';
import { recoverInterruptedBuilds } from './recover.js';
import { releaseGraph } from './release-graph.js';
import type { SearchSpace } from './search-space.js';
import { FILES, manifestSumLine, ManifestSchema, type Manifest } from './manifest.js';
import { AllowedRowsCache, DEFAULT_FILTER_CACHE_MB, excludedRows, lessExcluded, type FilteredRows } from './allowed-rows.js';
import { DEFAULT_VECTOR_CACHE_MB, FileVectors, MemoryVectors, type RowVectors } from './row-vectors.js';
import { hashFiles } from './verify-files.js';
import { holdFile, readFullyAt } from './held-file.js';
import { AddedVectors, applyWrites, checkWrite, dialogueRowsNow, emptyWrittenState, LiveSpace, type Write, type WrittenState, type WriteTarget } from './written.js';
import { DEFAULT_FOLD_SEED } from './folds.js';
import { isEmptyFilter, type Hit, type IndexedRow, type RowFilter } from './rows.js';

/**
 * A filter that leaves at most this many rows is searched exactly: a narrow filter starves HNSW's graph walk (it
 * must step over many rejected nodes and recall drops), while a scan of this many rows stays in low milliseconds.
 */
export const EXACT_SEARCH_MAX_ROWS = 2000;

/** Rows a search excludes, at most, that it fetches extra of and drops; more are skipped during the graph's walk. */
const EXCLUDED_OVERFETCH_MAX = 64;

export interface OpenOptions {
  /**
   * Refuse the index unless it was built with this embedder: id and dimension, and, where both the index and the
   * embedder have one, the fingerprint of the model files (a model replaced in the same folder is refused).
   */
  embedder?: { id: string; dim: number; fingerprint?: EmbedderFingerprint };
  /** Check file checksums against the manifest (default true). */
  verify?: boolean;
  /** Filtered searches over at most this many rows run exactly (default EXACT_SEARCH_MAX_ROWS). */
  exactSearchMaxRows?: number;
  /** HNSW beam width at query time, overriding the manifest's efSearch. */
  efSearch?: number;
  /**
   * Beam width of a cross-fitted (fold-space) search's walk over the graph (default DEFAULT_CROSS_FIT_EF; setting
   * ERC_DEMOS_CROSS_FIT_EF).
   */
  crossFitEf?: number;
  /**
   * Where the searched vectors (FILES.vectors) are read from: `file` (default) by position as searches need them,
   * at most vectorCacheMb of them kept in the heap, the rest left to the page cache (the graph holds its own copy for
   * its search); `memory`: the whole file read into the heap at open, as before issue 26 (twice the memory; the
   * reference the identity test compares against).
   */
  vectors?: 'file' | 'memory';
  /** Megabytes of vectors kept in the heap when read from the file (default DEFAULT_VECTOR_CACHE_MB). */
  vectorCacheMb?: number;
  /** Megabytes of the rows filters allow kept, per filter (allowed-rows.ts; default DEFAULT_FILTER_CACHE_MB). */
  filterCacheMb?: number;
  /** Files adding up to this many bytes or more are hashed in a thread of their own (default HASH_IN_THREAD_MIN_BYTES). */
  hashThreadMinBytes?: number;
}

/** An `utterances` row as SQLite returns it: labels and scores as JSON text, snake_case source id. */
type MetaRecord = Omit<IndexedRow, 'labels' | 'sourceLabels' | 'scores' | 'sourceId'> & { labels: string; scores: string | null; source_id: string | null; fold?: number; source_labels?: string | null };

/**
 * Reads and validates an index directory's manifest (after recovering from an interrupted build), without loading
 * the index: enough to pick the embedder it needs.
 */
export function readManifest(dirArg: string): Manifest {
  const dir = resolve(dirArg);
  recoverInterruptedBuilds(dir);
  const manifestPath = join(dir, FILES.manifest);
  if (!existsSync(manifestPath)) throw new IndexLoadError(dir, `no ${FILES.manifest} (not an index directory, or not built yet)`);
  const bytes = readFileSync(manifestPath);
  const sumPath = join(dir, FILES.manifestSum);
  if (!existsSync(sumPath)) throw new IndexLoadError(dir, `no ${FILES.manifestSum} (built by an older erc-demos, or damaged); rebuild the index`);
  if (readFileSync(sumPath, 'utf8') !== manifestSumLine(bytes)) {
    throw new IndexLoadError(dir, `${FILES.manifest} does not match ${FILES.manifestSum} (edited, corrupted or replaced); rebuild the index`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new IndexLoadError(dir, `${FILES.manifest} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new IndexLoadError(dir, `${FILES.manifest} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** The command that rebuilds an index like this one, with what its manifest knows filled in. */
export function rebuildCommand(dir: string, manifest: Manifest): string {
  const sources = manifest.sources ?? [];
  const one = sources[0] ?? { format: (CORPUS_FORMATS as readonly string[]).includes(manifest.corpus) ? manifest.corpus : '<format>', corpus: manifest.corpus };
  const corpus = sources.length > 1
    ? sources.map((s) => `--source ${s.format}:<path>:${s.corpus}`).join(' ')
    : `--corpus ${one.format} --data <path>${one.corpus !== one.format ? ` --corpus-name ${one.corpus}` : ''}`;
  const [model, prompt] = manifest.embedder.id.split('|prompt=');
  const embedder = model === 'use-lite' ? '' : ` --embedder ${JSON.stringify(model)}${prompt !== undefined ? ` --query-prompt ${JSON.stringify(prompt)}` : ''}`;
  return `erc-demos build ${corpus} ${manifest.splits.map((s) => `--split ${s}`).join(' ')}${embedder} --out ${dir}`;
}

/**
 * Refuses an index whose model files differ from those the embedder loaded now: names each file that changed and
 * how to rebuild. An index without a fingerprint (built before them) or an embedder without one is not checked.
 */
function checkFingerprint(dir: string, manifest: Manifest, now: EmbedderFingerprint | undefined): void {
  const built = manifest.embedder.fingerprint;
  if (!built || !now) return;
  const differences = fingerprintDifferences(built, now);
  if (differences.length === 0) return;
  throw new IndexLoadError(dir,
    `built with other model files than ${manifest.embedder.id} has now: ${differences.join('; ')}. ` +
      `Its vectors no longer match the model; rebuild it with the model as it is now (${rebuildCommand(dir, manifest)}), ` +
      'or put back the files it was built with');
}

/** Floats in FILES.crossFit: per fold, its projection's mean and weights, then every row's LDA part. */
function crossFitFloats(manifest: Manifest, dimIn: number): number {
  return manifest.cross_fit!.dims.reduce((n, m) => n + dimIn + dimIn * m + manifest.count * m, 0);
}

/**
 * Reads FILES.crossFit (from `fd`, the file as the index opened and checked it; its length checked then): per fold,
 * its projection, then every row's LDA part in that fold's space; their searches walk the index's own graph.
 */
function readFoldSpaces(fd: number, manifest: Manifest, base: Projection, stored: RowVectors, rows: readonly IndexedRow[], graph: IndexGraph): FoldSpace[] {
  const { dimIn } = base;
  const all = new Float32Array(crossFitFloats(manifest, dimIn));
  readFullyAt(fd, new Uint8Array(all.buffer), 0, FILES.crossFit);
  let at = 0;
  const take = (n: number) => all.subarray(at, (at += n));
  return manifest.cross_fit!.dims.map((m, fold) => {
    const projection: Projection = { ...base, dimOut: m, mean: take(dimIn), weights: take(dimIn * m) };
    return new FoldSpace(fold, projection, take(manifest.count * m), stored, rows, manifest.labels, graph);
  });
}

/** Refuses an index built with another embedder than the one this run uses (id and dimension, then model files). */
function checkEmbedder(dir: string, manifest: Manifest, expected: OpenOptions['embedder']): void {
  if (expected && (expected.id !== manifest.embedder.id || expected.dim !== manifest.embedder.dim)) {
    throw new IndexLoadError(dir,
      `built with embedder ${manifest.embedder.id} (${manifest.embedder.dim} dims), but this run uses ${expected.id} (${expected.dim} dims); ` +
        'rebuild the index with this embedder or query it with the one it was built with');
  }
  checkFingerprint(dir, manifest, expected?.fingerprint);
}

/**
 * The files the manifest names, in the order an open needs them checked (the projection before the graph is made
 * for its dimension, the graph before it is read, the cross-fit spaces, then the rest).
 */
function checkedFiles(manifest: Manifest): string[] {
  return [...(manifest.projection ? [FILES.projection] : []), FILES.hnsw, ...(manifest.cross_fit ? [FILES.crossFit] : []), FILES.meta, FILES.vectors];
}

/**
 * Every file the manifest names is there; unless `verify` is false, their checksums are computed from now on (in a
 * thread of their own for a large index: verify-files.ts) in checkedFiles' order, and `check(file)` resolves once that
 * file matches its checksum or rejects naming it. The open reads the rows meanwhile, the graph once its file is
 * checked (hnswlib's reader must never see a damaged file), and resolves only when every file is checked: a damaged
 * file is still refused, but the seconds of hashing overlap the reading instead of coming before it.
 */
function checkFiles(dir: string, manifest: Manifest, verify: boolean, threadMinBytes: number | undefined): (file: string) => Promise<void> {
  const files = checkedFiles(manifest);
  for (const file of files) if (!existsSync(join(dir, file))) throw new IndexLoadError(dir, `missing ${file}`);
  if (!verify) return async () => undefined;
  const sums = hashFiles(files.map((f) => join(dir, f)), threadMinBytes);
  const checked = new Map(files.map((file, i) => [file, sums[i].then(
    (sum) => {
      if (sum !== manifest.checksums[file]) throw new IndexLoadError(dir, `${file} does not match its checksum in the manifest (corrupted or replaced)`);
    },
    (error: Error) => {
      throw new IndexLoadError(dir, `${file} could not be read to check its checksum: ${error.message}`);
    },
  )]));
  for (const p of checked.values()) p.catch(() => undefined);
  // A file the index does not have (no projection, no cross-fit) has nothing to check.
  return (file) => checked.get(file) ?? Promise.resolve();
}

/** A file of float32s, checked against the length the manifest implies. */
function readFloats(dir: string, file: string, expectedFloats: number): Float32Array {
  const bytes = readFileSync(join(dir, file));
  if (bytes.byteLength !== 4 * expectedFloats) throw new IndexLoadError(dir, `${file} has ${bytes.byteLength} bytes, expected ${4 * expectedFloats}`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** The learned projection queries go through, if the index has one. */
function readProjection(dir: string, manifest: Manifest): Projection | undefined {
  if (!manifest.projection) return undefined;
  const { dim_in: dimIn, dim_out: dimOut, blend, shrinkage } = manifest.projection;
  const all = readFloats(dir, FILES.projection, dimIn + dimIn * dimOut);
  return { kind: 'lda', dimIn, dimOut, mean: all.slice(0, dimIn), weights: all.slice(dimIn), blend, shrinkage };
}

/** Graph files of at least this many bytes are read in a thread of libuv's pool (readGraph). */
const GRAPH_IN_THREAD_MIN_BYTES = 64 * 2 ** 20;

/**
 * Reads the graph; a large one in a thread of libuv's pool (hnswlib-node's readIndex), so the open reads the rows
 * meanwhile: at 1M rows hnswlib's reader takes 13 s (2.2 GB, a seek and two position reads per row, a page fault per
 * 4 KB). A small one is read here: glibc gives an allocation under 32 MB made in a pool thread from that thread's
 * arena, which keeps it once freed, and SIGHUP reloads of a MELD-sized index (22 MB) then grew RSS by twice as much.
 */
async function readGraph(dir: string, manifest: Manifest, searchDim: number, efSearch: number): Promise<hnswlib.HierarchicalNSW> {
  const hnsw = new hnswlib.HierarchicalNSW('cosine', searchDim);
  const file = join(dir, FILES.hnsw);
  if (statSync(file).size >= GRAPH_IN_THREAD_MIN_BYTES) await hnsw.readIndex(file);
  else hnsw.readIndexSync(file);
  if (hnsw.getCurrentCount() !== manifest.count) throw new IndexLoadError(dir, `HNSW holds ${hnsw.getCurrentCount()} vectors, manifest says ${manifest.count}`);
  hnsw.setEf(efSearch);
  return hnsw;
}

/**
 * One shared copy of each distinct value: SQLite hands out a new string (and JSON.parse a new array) per row, so a
 * million rows would hold a million copies of "train", of each speaker's name, of each label list.
 */
class Interned<T> {
  private readonly seen = new Map<string, T>();
  constructor(private readonly make: (text: string) => T) {}
  get(text: string): T {
    let value = this.seen.get(text);
    if (value === undefined) this.seen.set(text, (value = this.make(text)));
    return value;
  }
}

/**
 * Every row's metadata in id order, and each indexed dialogue's cross-validation fold: read row by row (no second
 * array of SQLite's records), repeated values shared (Interned; label lists are frozen, as they are shared).
 */
function readRows(dir: string, manifest: Manifest): { rows: IndexedRow[]; dialogueFolds: Map<string, number> } {
  const db = new Database(join(dir, FILES.meta), { readonly: true, fileMustExist: true });
  const rows: IndexedRow[] = [];
  const dialogueFolds = new Map<string, number>();
  const strings = new Interned((s) => s);
  const lists = new Interned((json) => Object.freeze(JSON.parse(json) as string[]) as string[]);
  try {
    for (const r of db.prepare('SELECT * FROM utterances ORDER BY id').iterate() as IterableIterator<MetaRecord>) {
      if (r.id !== rows.length || rows.length >= manifest.count) break;
      const dialogue = strings.get(r.dialogue);
      if (r.fold !== undefined && r.fold !== null) dialogueFolds.set(dialogue, r.fold);
      const labels = lists.get(r.labels);
      rows.push({
        id: r.id, corpus: strings.get(r.corpus), split: strings.get(r.split), dialogue, turn: r.turn, speaker: strings.get(r.speaker), text: r.text,
        labels, sourceLabels: r.source_labels ? lists.get(r.source_labels) : labels, sourceId: r.source_id,
        ...(r.scores ? { scores: JSON.parse(r.scores) as Record<string, number | null> } : {}),
      });
    }
    const count = (db.prepare('SELECT count(*) AS n FROM utterances').get() as { n: number }).n;
    if (rows.length !== manifest.count || count !== manifest.count) {
      throw new IndexLoadError(dir, `${FILES.meta} rows do not match the manifest (${count} rows, ${manifest.count} expected)`);
    }
  } finally {
    db.close();
  }
  return { rows, dialogueFolds };
}

/** The searched vectors: read on demand from the file (default), or all of them into the heap. */
function openVectors(dir: string, manifest: Manifest, searchDim: number, options: OpenOptions): RowVectors {
  if (options.vectors === 'memory') return new MemoryVectors(readFloats(dir, FILES.vectors, manifest.count * searchDim), searchDim);
  try {
    return new FileVectors(join(dir, FILES.vectors), manifest.count, searchDim, (options.vectorCacheMb ?? DEFAULT_VECTOR_CACHE_MB) * 2 ** 20);
  } catch (error) {
    throw new IndexLoadError(dir, `${FILES.vectors}: ${(error as Error).message}`);
  }
}

/** Throws the checksum error of the first damaged file, if any is (after every file's check has settled). */
async function firstDamaged(checked: (file: string) => Promise<void>, manifest: Manifest): Promise<void> {
  const files = checkedFiles(manifest);
  for (const file of files) await checked(file);
}

/**
 * query[0, dim) . data[offset, offset + dim), one running sum (exact scans' order: their scores must not change). A
 * function of its own: the same loop inside scan()'s callback read query and dim from the closure every step (an
 * exact scan of 540 cached rows took 1.5 ms, against 0.8 ms inline).
 */
function dotAt(query: Float32Array, data: Float32Array, offset: number, dim: number): number {
  let dot = 0;
  for (let i = 0; i < dim; i++) dot += query[i] * data[offset + i];
  return dot;
}

/** Row ids by dialogue, in turn order. */
function rowsByDialogue(rows: readonly IndexedRow[]): Map<string, number[]> {
  const byDialogue = new Map<string, number[]>();
  for (const row of rows) {
    const list = byDialogue.get(row.dialogue) ?? [];
    list.push(row.id);
    byDialogue.set(row.dialogue, list);
  }
  return byDialogue;
}

/** What an opened index is made of (DemoIndex.open reads each part in turn). */
interface IndexParts {
  dir: string;
  manifest: Manifest;
  hnsw: hnswlib.HierarchicalNSW;
  /** Every row's vector in the searched space, row after row. */
  vectors: RowVectors;
  rows: readonly IndexedRow[];
  byDialogue: ReadonlyMap<string, readonly number[]>;
  exactSearchMaxRows: number;
  efSearch: number;
  /** Dimension of the space searched: the embedder's, or the projection's output. */
  searchDim: number;
  projection: Projection | undefined;
  /** The rows filters allow, remembered per filter. */
  allowedRows: AllowedRowsCache;
  /** Each indexed dialogue's cross-validation fold. */
  dialogueFolds: ReadonlyMap<string, number>;
}

/**
 * An opened index: the HNSW graph and all row metadata in memory; the searched vectors (exact scans, rows re-scored,
 * MMR, cross-fitted walks) read from their file as needed through a bounded cache (row-vectors.ts), as the graph
 * holds its own copy for its search. It is the search space
 * of every unseen query; `space()` gives a training utterance the space of its own fold.
 */
export class DemoIndex implements SearchSpace {
  readonly dir: string;
  readonly manifest: Manifest;
  /** The rows the build wrote, as it wrote them (writes never change them: written.ts). */
  private readonly builtRows: readonly IndexedRow[];
  readonly efSearch: number;
  /** Dimension of the space searched: the embedder's, or the projection's output. */
  readonly searchDim: number;
  private readonly hnsw: hnswlib.HierarchicalNSW;
  private readonly vectors: RowVectors;
  private readonly byDialogue: ReadonlyMap<string, readonly number[]>;
  private readonly exactSearchMaxRows: number;
  private readonly allowedRows: AllowedRowsCache;
  private readonly projection: Projection | undefined;
  private readonly dialogueFolds: ReadonlyMap<string, number>;
  /** The spaces fitted without each fold, once read (foldSpaces). */
  private foldSpacesRead: readonly FoldSpace[] | undefined;
  /** Reads them (set by open where the index is cross-fitted; undefined once read). */
  private readFoldSpacesLater: (() => FoldSpace[]) | undefined;

  /**
   * The spaces fitted without each fold (empty when the index is not cross-fitted), read on the first search that
   * needs one: an open does not read what only cross-fitted searches (training utterances) use.
   */
  private get foldSpaces(): readonly FoldSpace[] {
    if (!this.foldSpacesRead) {
      this.foldSpacesRead = this.readFoldSpacesLater?.() ?? [];
      this.readFoldSpacesLater = undefined;
    }
    return this.foldSpacesRead;
  }
  /** The index's own space as the build wrote it (this index's search, without what was written since). */
  private readonly builtSpace: SearchSpace;
  /** What was written since the build (an empty state until a write or the write log's replay). */
  private written: WrittenState;
  /** Vectors of added rows per space (-1: the index's own; else the fold's), kept across writes. */
  private readonly addedVectors = new Map<number, AddedVectors>();
  /** Set by close(): the graphs are freed, and a search is refused. */
  private closed = false;

  private constructor(parts: IndexParts) {
    ({ dir: this.dir, manifest: this.manifest, rows: this.builtRows, efSearch: this.efSearch, searchDim: this.searchDim, hnsw: this.hnsw, vectors: this.vectors,
      byDialogue: this.byDialogue, exactSearchMaxRows: this.exactSearchMaxRows, projection: this.projection, dialogueFolds: this.dialogueFolds,
      allowedRows: this.allowedRows } = parts);
    this.builtSpace = {
      rows: this.builtRows, labels: this.manifest.labels, exactMaxRows: this.exactSearchMaxRows,
      queryVector: (embedded) => this.queryVector(embedded),
      vector: (id) => this.builtVector(id),
      search: (query, k, filter) => this.builtSearch(query, k, filter),
      exactSearch: (query, k, filter) => this.exactOver(query, k, this.builtFilteredRows(filter ?? {}).ids()),
      scoreRows: (query, ids) => this.exactOver(query, ids.length, ids),
    };
    this.written = emptyWrittenState(this.writeTarget);
  }

  /** Every row by id as it is now: the build's, then those added since; relabelled ones with their new labels. */
  get rows(): readonly IndexedRow[] {
    return this.written.rows;
  }

  /** What a write needs of this index (written.ts). */
  get writeTarget(): WriteTarget {
    return {
      builtRows: this.builtRows, builtDialogueRows: (dialogue) => this.byDialogue.get(dialogue) ?? [],
      folds: this.crossFitted ? this.manifest.cross_fit!.folds : undefined, foldSeed: this.manifest.cross_fit?.seed ?? DEFAULT_FOLD_SEED,
      dim: this.manifest.embedder.dim,
    };
  }

  /** What was written since the build (rows added, relabelled, removed). */
  get writtenState(): WrittenState {
    return this.written;
  }

  /**
   * Applies writes to this index in memory, in order (each checked first: a refused write throws and none of them is
   * applied). Searches already under way finish on the rows they started with. The write log (writes/) makes them
   * durable and shared.
   */
  applyWrites(writes: readonly Write[]): void {
    this.written = applyWrites(this.written, this.writeTarget, writes);
  }

  /** Whether a write would apply to this index as it is now (throws WriteRefused naming the field if not). */
  checkWrite(write: Write): void {
    checkWrite(this.written, this.writeTarget, write);
  }

  /** A space with what was written since the build, or the built space itself while nothing was. */
  private live(built: SearchSpace, key: number): SearchSpace {
    const state = this.written;
    if (state.rows === this.builtRows) return built;
    let added = this.addedVectors.get(key);
    if (!added) this.addedVectors.set(key, (added = new AddedVectors(built)));
    return new LiveSpace(built, state, added);
  }

  get labels(): readonly string[] {
    return this.manifest.labels;
  }

  /**
   * The space to search for an utterance of `dialogue`: where the index holds that dialogue and has cross-fitted
   * spaces, the space fitted without its fold (so a training utterance's demonstrations are found in a space that
   * never saw its label, as a test utterance's are); otherwise, or with crossFit false, the index's own.
   */
  space(dialogue: string | undefined, crossFit = true): SearchSpace {
    const fold = dialogue === undefined || !crossFit ? undefined : (this.dialogueFolds.get(dialogue) ?? this.written.folds.get(dialogue));
    const foldSpace = fold === undefined ? undefined : this.foldSpaces[fold];
    return foldSpace ? this.live(foldSpace, fold!) : this;
  }

  /** Refuses this index for an embedder other than the one it was built with (id and dimension, then model files). */
  checkEmbedder(embedder: NonNullable<OpenOptions['embedder']>): void {
    checkEmbedder(this.dir, this.manifest, embedder);
  }

  /** Whether this index can cross-fit (it has a learned projection and per-fold spaces). */
  get crossFitted(): boolean {
    return this.readFoldSpacesLater !== undefined || (this.foldSpacesRead?.length ?? 0) > 0;
  }

  /** An embedder vector in the space this index searches (through its learned projection, if it has one). */
  queryVector(embedded: Float32Array): Float32Array {
    return this.projection ? project(this.projection, embedded) : embedded;
  }

  get name(): string {
    return this.manifest.name;
  }

  static async open(dirArg: string, options: OpenOptions = {}): Promise<DemoIndex> {
    const dir = resolve(dirArg);
    const manifest = readManifest(dir);
    checkEmbedder(dir, manifest, options.embedder);
    const checked = checkFiles(dir, manifest, options.verify !== false, options.hashThreadMinBytes);
    try {
      // The graph once its file is checked (the first hashed after the small projection), read in another thread
      // while this one reads the rows (SQLite reads a damaged file without harm); the vectors' file is not read at
      // all (by default), only hashed.
      await checked(FILES.projection);
      const projection = readProjection(dir, manifest);
      const searchDim = projection ? projectedDim(projection) : manifest.embedder.dim;
      const efSearch = options.efSearch ?? manifest.hnsw.efSearch;
      await checked(FILES.hnsw);
      const graph = readGraph(dir, manifest, searchDim, efSearch);
      graph.catch(() => undefined);
      const { rows, dialogueFolds } = readRows(dir, manifest);
      const vectors = openVectors(dir, manifest, searchDim, options);
      const byDialogue = rowsByDialogue(rows);
      const hnsw = await graph;
      const allowedRows = new AllowedRowsCache(rows, (options.filterCacheMb ?? DEFAULT_FILTER_CACHE_MB) * 2 ** 20);
      const index = new DemoIndex({ dir, manifest, hnsw, vectors, rows, byDialogue, exactSearchMaxRows: options.exactSearchMaxRows ?? EXACT_SEARCH_MAX_ROWS, efSearch, searchDim, projection, dialogueFolds, allowedRows });
      if (manifest.cross_fit) {
        await checked(FILES.crossFit);
        index.readFoldSpacesLater = index.openFoldSpaces(options.crossFitEf ?? DEFAULT_CROSS_FIT_EF);
      }
      await checked(FILES.meta);
      await checked(FILES.vectors);
      return index;
    } catch (error) {
      // A damaged file is named as such even where reading it failed first (a SQLite error, a row count).
      await firstDamaged(checked, manifest);
      throw error;
    }
  }

  /**
   * Checks what the spaces fitted without each fold need (a projection, folds, the file's length) and returns what
   * reads them: they walk this index's graph (its links, too, read on the first such search).
   */
  private openFoldSpaces(crossFitEf: number): () => FoldSpace[] {
    const { dir, manifest, projection, dialogueFolds, byDialogue } = this;
    if (!projection) throw new IndexLoadError(dir, 'cross_fit without a projection in the manifest');
    if (dialogueFolds.size !== byDialogue.size || [...dialogueFolds.values()].some((f) => f >= manifest.cross_fit!.folds)) {
      throw new IndexLoadError(dir, `${FILES.meta} folds do not match the manifest's ${manifest.cross_fit!.folds} folds`);
    }
    const crossFit = manifest.cross_fit!;
    // The files as this index opened and checked them, read on the first cross-fitted search (see held-file.ts).
    const crossFitFile = holdFile(join(dir, FILES.crossFit), this);
    const expected = 4 * crossFitFloats(manifest, projection.dimIn);
    const size = fstatSync(crossFitFile).size;
    if (crossFit.dims.length !== crossFit.folds || size !== expected) {
      throw new IndexLoadError(dir, `${FILES.crossFit} has ${size} bytes, expected ${expected} for ${crossFit.folds} folds`);
    }
    let links: GraphLinks | undefined;
    const graphFile = holdFile(join(dir, FILES.hnsw), this);
    const graph: IndexGraph = {
      projection,
      ef: crossFitEf,
      exactMaxRows: this.exactSearchMaxRows,
      // Seeds from the graph's own search at its usual beam: the walk from rows it found with a narrower one
      // misses more (EmoryNLP train recall@10 0.987 with a beam of 16, 0.993 with 128).
      search: (query, k) => this.hnswSearch(query, k).map((h) => h.id),
      links: () => (links ??= readGraphLinks(join(dir, FILES.hnsw), manifest.count, graphFile)),
      dialogueRows: (dialogue) => this.byDialogue.get(dialogue) ?? [],
      allowedRows: (filter) => this.allowedRows.of(filter),
    };
    return () => readFoldSpaces(crossFitFile, manifest, projection, this.vectors, this.builtRows, graph);
  }

  /** A row's vector in the searched space (a built row's: a view of the block of stored vectors it was read in). */
  vector(id: number): Float32Array {
    return this.live(this.builtSpace, -1).vector(id);
  }

  private builtVector(id: number): Float32Array {
    return this.vectors.row(id);
  }

  /** Row ids of one dialogue in turn order as the index holds it now, or [] when it does not (or it was removed). */
  dialogueRows(dialogue: string): readonly number[] {
    return dialogueRowsNow(this.written, this.writeTarget, dialogue);
  }

  /** Top-k rows by cosine similarity that pass the filter, best first: HNSW, or exact where the filter is narrow. */
  search(query: Float32Array, k: number, filter: RowFilter = {}): Hit[] {
    return this.live(this.builtSpace, -1).search(query, k, filter);
  }

  /** Brute-force top-k over every row that passes the filter: the ground truth HNSW is measured against. */
  exactSearch(query: Float32Array, k: number, filter: RowFilter = {}): Hit[] {
    return this.live(this.builtSpace, -1).exactSearch(query, k, filter);
  }

  get exactMaxRows(): number {
    return this.exactSearchMaxRows;
  }

  scoreRows(query: Float32Array, ids: readonly number[]): Hit[] {
    return this.live(this.builtSpace, -1).scoreRows(query, ids);
  }

  /** The built rows' search: HNSW, or exact where the filter is narrow. */
  private builtSearch(query: Float32Array, k: number, filter: RowFilter = {}): Hit[] {
    if (k <= 0) return [];
    const count = this.builtRows.length;
    if (isEmptyFilter(filter)) return this.hnswSearch(query, Math.min(k, count));
    if (!filter.labels && !filter.splits && !filter.corpora) {
      const excluded = this.excludedIds(filter) ?? new Set<number>();
      // Only a few exclusions (a dialogue, a row): fetch that many more, drop them; exact and cheaper than a filtered
      // walk. Many (rows changed by writes): the graph's walk skips them.
      if (excluded.size <= EXCLUDED_OVERFETCH_MAX) {
        const hits = this.hnswSearch(query, Math.min(k + excluded.size, count));
        return hits.filter((h) => !excluded.has(h.id)).slice(0, k);
      }
      return this.hnswSearch(query, Math.min(k, count - excluded.size), (id) => !excluded.has(id));
    }
    const rows = this.builtFilteredRows(filter);
    if (rows.count === 0) return [];
    if (rows.count <= this.exactSearchMaxRows) return this.exactOver(query, k, rows.ids());
    return this.hnswSearch(query, Math.min(k, rows.count), rows.allows);
  }

  private excludedIds(filter: RowFilter): Set<number> | undefined {
    return excludedRows(filter, (dialogue) => this.byDialogue.get(dialogue) ?? []);
  }

  /** The built rows the labels, splits and corpora allow (remembered per filter), less those it excludes. */
  private builtFilteredRows(filter: RowFilter): FilteredRows {
    return lessExcluded(this.allowedRows.of(filter), this.excludedIds(filter));
  }

  /** The rows a filter allows, while nothing was written (SearchSpace.filteredRows). */
  filteredRows(filter: RowFilter): FilteredRows | undefined {
    return this.written.rows === this.builtRows ? this.builtFilteredRows(filter) : undefined;
  }

  private exactOver(query: Float32Array, k: number, ids: readonly number[]): Hit[] {
    const dim = this.searchDim;
    const scored: Hit[] = new Array(ids.length);
    // Rows in runs where they are dense in the file (a wide filter, every row), else through the cache.
    this.vectors.scan(ids, (n, data, offset) => {
      scored[n] = { id: ids[n], score: dotAt(query, data, offset, dim) };
    });
    return scored.sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k);
  }

  /**
   * Frees the graphs (this index's and those of its written rows) now rather than whenever V8 collects them
   * (release-graph.ts); for a service's close, when no request is using the index any more. Later searches are
   * refused with SERVICE_CLOSED.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    releaseGraph(this.hnsw);
    for (const added of this.addedVectors.values()) added.close();
  }

  /** The graph's k best rows (passing `filter`), best first; `ef`: the beam this once (default efSearch, at least k). */
  private hnswSearch(query: Float32Array, k: number, filter?: (id: number) => boolean, ef = this.efSearch): Hit[] {
    if (this.closed) throw new ServiceClosedError(`index ${this.name}`);
    // The graph's beam must be at least k wide to return k results.
    const beam = Math.max(k, ef);
    if (beam !== this.efSearch) this.hnsw.setEf(beam);
    const result = this.hnsw.searchKnn(Array.from(query), k, filter);
    if (beam !== this.efSearch) this.hnsw.setEf(this.efSearch);
    return result.neighbors
      .map((id, i) => ({ id, score: 1 - result.distances[i] }))
      .sort((a, b) => b.score - a.score || a.id - b.id);
  }
}
