import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import hnswlib from 'hnswlib-node';
import { CORPUS_FORMATS } from '../corpus/load.js';
import { IndexLoadError } from '../errors.js';
import { fingerprintDifferences, type EmbedderFingerprint } from '../embed/fingerprint.js';
import { project, projectedDim, type Projection } from '../embed/projection.js';
import { DEFAULT_CROSS_FIT_EF, FoldSpace, type IndexGraph } from './fold-space.js';
import { readGraphLinks, type GraphLinks } from './graph-links.js';
import { recoverInterruptedBuilds } from './recover.js';
import type { SearchSpace } from './search-space.js';
import { FILES, manifestSumLine, ManifestSchema, sha256File, type Manifest } from './manifest.js';
import { AddedVectors, applyWrites, checkWrite, dialogueRowsNow, emptyWrittenState, LiveSpace, type Write, type WrittenState, type WriteTarget } from './written.js';
import { DEFAULT_FOLD_SEED } from './folds.js';
import { isEmptyFilter, rowMatches, type Hit, type IndexedRow, type RowFilter } from './rows.js';

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

/**
 * Reads FILES.crossFit: per fold, its projection, then every row's LDA part in that fold's space; their searches
 * walk the index's own graph.
 */
function readFoldSpaces(dir: string, manifest: Manifest, base: Projection, stored: Float32Array, storedDim: number, rows: readonly IndexedRow[], graph: IndexGraph): FoldSpace[] {
  const crossFit = manifest.cross_fit!;
  const { dimIn } = base;
  const expected = crossFit.dims.reduce((n, m) => n + dimIn + dimIn * m + manifest.count * m, 0);
  const bytes = readFileSync(join(dir, FILES.crossFit));
  if (crossFit.dims.length !== crossFit.folds || bytes.byteLength !== 4 * expected) {
    throw new IndexLoadError(dir, `${FILES.crossFit} has ${bytes.byteLength} bytes, expected ${4 * expected} for ${crossFit.folds} folds`);
  }
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  let at = 0;
  const take = (n: number) => all.subarray(at, (at += n));
  return crossFit.dims.map((m, fold) => {
    const projection: Projection = { ...base, dimOut: m, mean: take(dimIn), weights: take(dimIn * m) };
    return new FoldSpace(fold, projection, take(manifest.count * m), stored, storedDim, rows, manifest.labels, graph);
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

/** Every file the manifest names is there and, unless `verify` is false, matches its checksum. */
async function checkFiles(dir: string, manifest: Manifest, verify: boolean): Promise<void> {
  for (const file of [FILES.hnsw, FILES.vectors, FILES.meta, ...(manifest.projection ? [FILES.projection] : []), ...(manifest.cross_fit ? [FILES.crossFit] : [])]) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new IndexLoadError(dir, `missing ${file}`);
    if (verify && (await sha256File(path)) !== manifest.checksums[file]) {
      throw new IndexLoadError(dir, `${file} does not match its checksum in the manifest (corrupted or replaced)`);
    }
  }
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

function readGraph(dir: string, manifest: Manifest, searchDim: number, efSearch: number): hnswlib.HierarchicalNSW {
  const hnsw = new hnswlib.HierarchicalNSW('cosine', searchDim);
  hnsw.readIndexSync(join(dir, FILES.hnsw));
  if (hnsw.getCurrentCount() !== manifest.count) throw new IndexLoadError(dir, `HNSW holds ${hnsw.getCurrentCount()} vectors, manifest says ${manifest.count}`);
  hnsw.setEf(efSearch);
  return hnsw;
}

/** Every row's metadata in id order, and each indexed dialogue's cross-validation fold. */
function readRows(dir: string, manifest: Manifest): { rows: IndexedRow[]; dialogueFolds: Map<string, number> } {
  const db = new Database(join(dir, FILES.meta), { readonly: true, fileMustExist: true });
  const records = db.prepare('SELECT * FROM utterances ORDER BY id').all() as MetaRecord[];
  db.close();
  if (records.length !== manifest.count || records.some((r, i) => r.id !== i)) {
    throw new IndexLoadError(dir, `${FILES.meta} rows do not match the manifest (${records.length} rows, ${manifest.count} expected)`);
  }
  const dialogueFolds = new Map<string, number>();
  const rows = records.map((r): IndexedRow => {
    if (r.fold !== undefined && r.fold !== null) dialogueFolds.set(r.dialogue, r.fold);
    const labels = JSON.parse(r.labels) as string[];
    return {
      id: r.id, corpus: r.corpus, split: r.split, dialogue: r.dialogue, turn: r.turn, speaker: r.speaker, text: r.text,
      labels, sourceLabels: r.source_labels ? (JSON.parse(r.source_labels) as string[]) : labels, sourceId: r.source_id,
      ...(r.scores ? { scores: JSON.parse(r.scores) as Record<string, number | null> } : {}),
    };
  });
  return { rows, dialogueFolds };
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
  vectors: Float32Array;
  rows: readonly IndexedRow[];
  byDialogue: ReadonlyMap<string, readonly number[]>;
  exactSearchMaxRows: number;
  efSearch: number;
  /** Dimension of the space searched: the embedder's, or the projection's output. */
  searchDim: number;
  projection: Projection | undefined;
  /** Each indexed dialogue's cross-validation fold. */
  dialogueFolds: ReadonlyMap<string, number>;
}

/**
 * An opened index: HNSW graph, raw vectors for exact search, and all row metadata in memory. It is the search space
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
  private readonly vectors: Float32Array;
  private readonly byDialogue: ReadonlyMap<string, readonly number[]>;
  private readonly exactSearchMaxRows: number;
  private readonly projection: Projection | undefined;
  private readonly dialogueFolds: ReadonlyMap<string, number>;
  /** The spaces fitted without each fold (empty when the index is not cross-fitted); set once, by open. */
  private foldSpaces: readonly FoldSpace[] = [];
  /** The index's own space as the build wrote it (this index's search, without what was written since). */
  private readonly builtSpace: SearchSpace;
  /** What was written since the build (an empty state until a write or the write log's replay). */
  private written: WrittenState;
  /** Vectors of added rows per space (-1: the index's own; else the fold's), kept across writes. */
  private readonly addedVectors = new Map<number, AddedVectors>();

  private constructor(parts: IndexParts) {
    ({ dir: this.dir, manifest: this.manifest, rows: this.builtRows, efSearch: this.efSearch, searchDim: this.searchDim, hnsw: this.hnsw, vectors: this.vectors,
      byDialogue: this.byDialogue, exactSearchMaxRows: this.exactSearchMaxRows, projection: this.projection, dialogueFolds: this.dialogueFolds } = parts);
    this.builtSpace = {
      rows: this.builtRows, labels: this.manifest.labels, exactMaxRows: this.exactSearchMaxRows,
      queryVector: (embedded) => this.queryVector(embedded),
      vector: (id) => this.builtVector(id),
      search: (query, k, filter) => this.builtSearch(query, k, filter),
      exactSearch: (query, k, filter) => this.exactOver(query, k, this.allowedIds(filter ?? {})),
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
      folds: this.foldSpaces.length > 0 ? this.manifest.cross_fit!.folds : undefined, foldSeed: this.manifest.cross_fit?.seed ?? DEFAULT_FOLD_SEED,
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

  /** Whether this index can cross-fit (it has a learned projection and per-fold spaces). */
  get crossFitted(): boolean {
    return this.foldSpaces.length > 0;
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
    await checkFiles(dir, manifest, options.verify !== false);
    const projection = readProjection(dir, manifest);
    const searchDim = projection ? projectedDim(projection) : manifest.embedder.dim;
    const efSearch = options.efSearch ?? manifest.hnsw.efSearch;
    const hnsw = readGraph(dir, manifest, searchDim, efSearch);
    const vectors = readFloats(dir, FILES.vectors, manifest.count * searchDim);
    const { rows, dialogueFolds } = readRows(dir, manifest);
    const byDialogue = rowsByDialogue(rows);
    const index = new DemoIndex({ dir, manifest, hnsw, vectors, rows, byDialogue, exactSearchMaxRows: options.exactSearchMaxRows ?? EXACT_SEARCH_MAX_ROWS, efSearch, searchDim, projection, dialogueFolds });
    if (manifest.cross_fit) index.foldSpaces = index.openFoldSpaces(options.crossFitEf ?? DEFAULT_CROSS_FIT_EF);
    return index;
  }

  /** The spaces fitted without each fold, which walk this index's graph (its links read on the first such search). */
  private openFoldSpaces(crossFitEf: number): FoldSpace[] {
    const { dir, manifest, projection, dialogueFolds, byDialogue } = this;
    if (!projection) throw new IndexLoadError(dir, 'cross_fit without a projection in the manifest');
    if (dialogueFolds.size !== byDialogue.size || [...dialogueFolds.values()].some((f) => f >= manifest.cross_fit!.folds)) {
      throw new IndexLoadError(dir, `${FILES.meta} folds do not match the manifest's ${manifest.cross_fit!.folds} folds`);
    }
    let links: GraphLinks | undefined;
    const graph: IndexGraph = {
      projection,
      ef: crossFitEf,
      exactMaxRows: this.exactSearchMaxRows,
      // Seeds from the graph's own search at its usual beam: the walk from rows it found with a narrower one
      // misses more (EmoryNLP train recall@10 0.987 with a beam of 16, 0.993 with 128).
      search: (query, k) => this.hnswSearch(query, k).map((h) => h.id),
      links: () => (links ??= readGraphLinks(join(dir, FILES.hnsw), manifest.count)),
      dialogueRows: (dialogue) => this.byDialogue.get(dialogue) ?? [],
    };
    return readFoldSpaces(dir, manifest, projection, this.vectors, this.searchDim, this.builtRows, graph);
  }

  /** A row's vector in the searched space (a built row's: a view of the stored vectors, not a copy). */
  vector(id: number): Float32Array {
    return this.live(this.builtSpace, -1).vector(id);
  }

  private builtVector(id: number): Float32Array {
    const dim = this.searchDim;
    return this.vectors.subarray(id * dim, (id + 1) * dim);
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
      const excluded = new Set(filter.excludeIds);
      for (const dialogue of filter.excludeDialogues ?? []) for (const id of this.byDialogue.get(dialogue) ?? []) excluded.add(id);
      // Only a few exclusions (a dialogue, a row): fetch that many more, drop them; exact and cheaper than a filtered
      // walk. Many (rows changed by writes): the graph's walk skips them.
      if (excluded.size <= EXCLUDED_OVERFETCH_MAX) {
        const hits = this.hnswSearch(query, Math.min(k + excluded.size, count));
        return hits.filter((h) => !excluded.has(h.id)).slice(0, k);
      }
      return this.hnswSearch(query, Math.min(k, count - excluded.size), (id) => !excluded.has(id));
    }
    const allowed = this.allowedIds(filter);
    if (allowed.length === 0) return [];
    if (allowed.length <= this.exactSearchMaxRows) return this.exactOver(query, k, allowed);
    const allowedSet = new Set(allowed);
    return this.hnswSearch(query, Math.min(k, allowed.length), (id) => allowedSet.has(id));
  }

  private allowedIds(filter: RowFilter): number[] {
    return this.builtRows.filter((row) => rowMatches(row, filter)).map((row) => row.id);
  }

  private exactOver(query: Float32Array, k: number, ids: readonly number[]): Hit[] {
    const dim = this.searchDim;
    const scored: Hit[] = new Array(ids.length);
    for (let n = 0; n < ids.length; n++) {
      const offset = ids[n] * dim;
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += query[i] * this.vectors[offset + i];
      scored[n] = { id: ids[n], score: dot };
    }
    return scored.sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k);
  }

  /** The graph's k best rows (passing `filter`), best first; `ef`: the beam this once (default efSearch, at least k). */
  private hnswSearch(query: Float32Array, k: number, filter?: (id: number) => boolean, ef = this.efSearch): Hit[] {
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
