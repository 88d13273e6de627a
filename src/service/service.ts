import { createQueryEmbedder, type EmbedRole } from '../embed/create.js';
import type { EmbedderFingerprint } from '../embed/fingerprint.js';
import type { SharedEmbedders } from '../embed/shared-embedders.js';
import type { Embedder } from '../embed/types.js';
import { IndexLoadError, IndexSetError, InputError, LimitError, ServiceClosedError } from '../errors.js';
import { DemoIndex, readManifest } from '../index/open.js';
import { inIndexSpace, resolveCorpora } from './corpora.js';
import type { SearchSpace } from '../index/search-space.js';
import { retrieveInSteps } from '../retrieve/retrieve.js';
import { resolveLabels, type Demonstration, type SelectionOptions, type Strategy } from '../retrieve/select.js';
import { DEFAULT_SETTINGS, type Settings } from '../settings.js';
import { checkDemonstrations, checkList, checkRequestChars, demonstrationsAsked, type RequestLimits } from './limits.js';
import { PromptRequestSchema, resolveFormat, type PromptRequestInput } from './prompt-request.js';
import { buildPrompts, checkPromptSize } from './prompts.js';
import { DemoQueryValuesSchema, effectiveK, type DemoQuery } from './query.js';
import { parseInput } from './validate.js';
import { MAIN_THREAD, type MainThreadShare } from './yield.js';
import { IndexWrites, type FollowState } from '../writes/index-writes.js';
import { z } from 'zod';
import { numberSchema } from '../numbers.js';
import { AddDialoguesSchema, givenLabels, labelsInIndex, RelabelSchema, toWrittenDialogues, writeError, type WriteDialogueInput, type WrittenSummary } from './writes.js';

/**
 * A query's values, from GET (comma lists), POST (arrays) or a program alike: only `utterance` is required (strategy
 * topk, k 5 or 1 per label by default). Checked by DemoQueryValuesSchema whoever calls: a wrong value is an
 * InputError naming its field.
 */
export type DemoQueryOptions = Omit<DemoQuery, 'labels' | 'split' | 'exclude_dialogue' | 'corpus' | 'strategy'> & {
  strategy?: Strategy; labels?: string[]; split?: string[]; exclude_dialogue?: string[]; corpus?: string[];
};

/** What an accepted write answers: the index, the write's place in the index's log, and what it did. */
export interface WriteAck {
  index: string;
  /** The write's sequence number in the index's write log (every replica applies writes in this order). */
  seq: number;
  took_ms: number;
}

export interface AddDialoguesResult extends WriteAck {
  /** Each dialogue as the index now names it, with its rows' ids (as `id` in demonstrations). */
  dialogues: { id: string; rows: number[] }[];
}

export interface RelabelResult extends WriteAck {
  dialogue: string;
  turn: number;
  id: number;
  labels: string[];
  source_labels: string[];
}

export interface RemoveResult extends WriteAck {
  dialogue: string;
  /** Utterances removed. */
  removed: number;
}

/** Why a run's own signal is aborted once it ends (nothing reads it: the embedder's tickets only stop). */
const RUN_ENDED = new Error('run ended');

const IndexNameSchema = z.string().trim().min(1).optional();
const AddRequestSchema = AddDialoguesSchema.extend({ index: IndexNameSchema });
const DialogueRefSchema = z.object({ index: IndexNameSchema, dialogue: z.string({ error: 'must be a string' }).min(1, 'must not be empty') }).strict();
const RelabelRequestSchema = RelabelSchema.extend({ index: IndexNameSchema, dialogue: DialogueRefSchema.shape.dialogue, turn: numberSchema('integer', { min: 0 }) }).strict();

export interface DemoResponse {
  index: string;
  embedder: string;
  took_ms: number;
  demonstrations: Demonstration[];
}

/** A validated query, ready to run: its index, what to select and the text to embed. */
interface PlannedQuery {
  name: string;
  index: DemoIndex;
  /** The index's own space, or the fold's space of the query's indexed dialogue (cross-fitting). */
  space: SearchSpace;
  selection: SelectionOptions;
  text: string;
}

/** A validated batch: nothing has been embedded yet. */
export interface DemoPlan {
  readonly queries: readonly PlannedQuery[];
}

/** Whether an index name can be given as the `index` parameter, which is trimmed and must not be empty (every door). */
export function addressable(name: string): boolean {
  return name.trim() !== '' && name === name.trim();
}

/**
 * The library behind both doors: loaded indexes (by name) and one embedder per embedder id they need. Each index
 * is opened against the embedder it names, so a mismatch is refused at load, not discovered at query time.
 */
export class DemoService {
  /** Where the main-thread work of requests (search, selection, serialisation) is shared fairly (yield.ts). */
  share: MainThreadShare = MAIN_THREAD;

  /** Set by close(): every later call is refused with SERVICE_CLOSED. */
  private closed = false;
  /** The plans this service made (plan()): run() takes no other, so nothing runs unvalidated. */
  private readonly plans = new WeakSet<DemoPlan>();

  private constructor(
    readonly indexes: ReadonlyMap<string, DemoIndex>,
    /** Per served index, its write log: replayed at load, written through, followed (refreshWrites). */
    private readonly writes: ReadonlyMap<string, IndexWrites>,
    /** One embedder per embedder id the indexes need. */
    readonly embedders: ReadonlyMap<string, Embedder>,
    readonly limits: RequestLimits & Pick<Settings, 'maxWriteUtterances'> & { writeCallItems?: number },
    /** Whether the embedders are this service's to close (false: shared across openings, closed by their owner). */
    private readonly ownsEmbedders: boolean,
  ) {}

  /**
   * Opens index directories; `embedder` (a spec) forces one embedder and refuses indexes built with another.
   * `settings` sets the limits on a request's work and the embedder's scheduling (default: from the environment).
   * `shared` lends the embedders (serve's reloads reuse one pool per model instead of starting threads each time);
   * without it the service makes its own and closes them with itself.
   */
  static async load(
    dirs: readonly string[],
    options: { embedder?: string; names?: readonly (string | undefined)[]; role?: EmbedRole; settings?: Settings; shared?: SharedEmbedders } = {},
  ): Promise<DemoService> {
    if (dirs.length === 0) throw new IndexSetError('NO_INDEX', 'no index to serve');
    const settings = options.settings ?? DEFAULT_SETTINGS;
    const embedders = new Map<string, Embedder>();
    const indexes = new Map<string, DemoIndex>();
    const writes = new Map<string, IndexWrites>();
    const manifests = dirs.map((dir) => readManifest(dir));
    // Each index is served under a name a request can give (`index` is trimmed and must not be empty): refused here,
    // before any model loads, rather than served out of reach.
    for (const [i, dir] of dirs.entries()) {
      const given = options.names?.[i];
      if (given !== undefined && (typeof given !== 'string' || !addressable(given))) {
        throw new InputError(`names.${i}`, `an index name must be a string, not empty, without surrounding spaces (got ${JSON.stringify(given)})`);
      }
      if (given === undefined && !addressable(manifests[i].name)) {
        throw new IndexLoadError(dir, `its name ${JSON.stringify(manifests[i].name)} cannot be asked for (empty, or with surrounding spaces); serve it under another: --index <name>=<dir>`);
      }
    }
    // Refused before any model loads: an embedder spec is the id it stores, so a mismatch is known from the spec.
    for (const [i, manifest] of manifests.entries()) {
      if (options.embedder && options.embedder !== manifest.embedder.id) {
        throw new IndexLoadError(dirs[i], `built with embedder ${manifest.embedder.id} (${manifest.embedder.dim} dims), but this run uses ` +
          `${options.embedder}; rebuild the index with this embedder or query it with the one it was built with`);
      }
    }
    const { shared } = options;
    const acquire = (spec: string, wanted?: EmbedderFingerprint | null) => (shared ? shared.get(spec, wanted ?? undefined) : createQueryEmbedder(spec, options.role, settings));
    try {
      const forced = options.embedder ? await acquire(options.embedder, manifests[0]?.embedder.fingerprint) : undefined;
      if (forced) embedders.set(forced.id, forced);
      for (const [i, dir] of dirs.entries()) {
        const id = forced?.id ?? manifests[i].embedder.id;
        // The model loads in its threads while the index opens (at 1M rows, a second of the start).
        const [model, opened] = await Promise.allSettled([
          embedders.get(id) ?? acquire(id, manifests[i].embedder.fingerprint),
          DemoIndex.open(dir, { crossFitEf: settings.crossFitEf, vectorCacheMb: settings.vectorCacheMb, filterCacheMb: settings.filterCacheMb }),
        ]);
        if (model.status === 'fulfilled') embedders.set(id, model.value);
        if (opened.status === 'rejected') throw opened.reason;
        const index = opened.value;
        try {
          if (model.status === 'rejected') throw model.reason;
          index.checkEmbedder(model.value);
        } catch (error) {
          index.close();
          throw error;
        }
        const name = options.names?.[i] ?? index.name;
        if (indexes.has(name)) {
          index.close();
          throw new IndexSetError('INDEX_NAME_TAKEN', `two indexes are named "${name}"; name them with --index name=<dir>`);
        }
        indexes.set(name, index);
        writes.set(name, IndexWrites.open(index, { busyTimeoutMs: settings.writeLockTimeoutMs }));
      }
      // A model's first call allocates and plans (tens of ms): pay it at start, not on a request.
      for (const embedder of embedders.values()) await embedder.embed(['warm up']);
    } catch (error) {
      // A failed load (a damaged index among several: a SIGHUP reload refused) keeps nothing of what it opened.
      for (const w of writes.values()) w.close();
      for (const index of indexes.values()) index.close();
      if (!shared) await Promise.all([...embedders.values()].map((e) => e.close?.()));
      throw error;
    }
    // A write's sentences go in short calls only where queries may wait behind them (serve); a batch door's in full ones.
    const limits = { ...settings, writeCallItems: options.role === 'serve' ? settings.writeCallItems : undefined };
    return new DemoService(indexes, writes, embedders, limits, !shared);
  }

  /**
   * Refuses further work, frees the indexes' graphs and waits for the embedder calls in flight: a process must not
   * exit while a worker thread is inside an onnxruntime call (the teardown crashes it).
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const writes of this.writes.values()) writes.close();
    for (const index of this.indexes.values()) index.close();
    if (!this.ownsEmbedders) return;
    await Promise.all([...this.embedders.values()].map((e) => e.close?.()));
  }

  /** Refuses a call on a closed service with a coded error (its embedders may be closed). */
  private checkOpen(method: string): void {
    if (this.closed) throw new ServiceClosedError(`DemoService.${method}`);
  }

  /** The named index, or the only one when no name is given, with the name it is served under. */
  index(name?: string): { name: string; index: DemoIndex } {
    this.checkOpen('index');
    if (name !== undefined && typeof name !== 'string') throw new InputError('index', 'must be an index name (a string)');
    if (name === undefined) {
      if (this.indexes.size === 1) {
        const [[only, index]] = this.indexes;
        return { name: only, index };
      }
      throw new InputError('index', `is required when several indexes are served (${[...this.indexes.keys()].join(', ')})`);
    }
    const index = this.indexes.get(name);
    if (!index) throw new InputError('index', `unknown index "${name}" (serving: ${[...this.indexes.keys()].join(', ')})`);
    return { name, index };
  }

  embedderFor(index: DemoIndex): Embedder {
    return this.embedders.get(index.manifest.embedder.id)!;
  }

  /** Validates a query against its index (labels, splits, list sizes) and returns the selection to run. */
  private selection(index: DemoIndex, query: DemoQueryOptions): SelectionOptions {
    checkList('labels', query.labels, this.limits);
    checkList('split', query.split, this.limits);
    checkList('exclude_dialogue', query.exclude_dialogue, this.limits);
    checkList('corpus', query.corpus, this.limits);
    const labels = query.labels ? resolveLabels(index.manifest.corpus, index.manifest.labels, query.labels) : undefined;
    if (query.split) {
      const unknown = query.split.find((s) => !index.manifest.splits.includes(s));
      if (unknown) throw new InputError('split', `unknown split "${unknown}" (index holds: ${index.manifest.splits.join(', ')})`);
    }
    const excludeDialogues = [...(query.exclude_dialogue ?? []), ...(query.dialogue ? [query.dialogue] : [])];
    return {
      k: effectiveK(query), strategy: query.strategy ?? 'topk', labels, splits: query.split, dedup: query.dedup, lambda: query.lambda,
      ...(query.corpus ? { corpora: resolveCorpora(index.manifest, query.corpus, 'corpus') } : {}),
      ...(excludeDialogues.length ? { excludeDialogues } : {}),
    };
  }

  /**
   * Validates queries against their indexes and this service's limits, before anything is embedded: one bad query
   * refuses the batch, named by position (`queries.3.k`) when there are several.
   */
  plan(queries: readonly DemoQueryOptions[]): DemoPlan {
    this.checkOpen('plan');
    if (!Array.isArray(queries)) throw new InputError('queries', 'must be a list of queries');
    const several = queries.length > 1;
    const planned = queries.map((given: unknown, i) => {
      try {
        // The rules of the HTTP door (query.ts), for a program's call as for a request already checked by them.
        const query = parseInput(DemoQueryValuesSchema, given, 'query');
        const { name, index } = this.index(query.index);
        return { name, index, space: index.space(query.dialogue, query.cross_fit ?? true), selection: this.selection(index, query), text: query.utterance };
      } catch (error) {
        if (error instanceof InputError && several) {
          const param = error.param === 'query' ? `queries.${i}` : `queries.${i}.${error.param}`;
          throw new InputError(param, error.message.slice(error.param.length + 2), error.code);
        }
        throw error;
      }
    });
    checkRequestChars(several ? 'queries' : 'utterance', planned.map((p) => p.text), this.limits);
    const asked = planned.reduce((n, p) => n + demonstrationsAsked(p.selection, p.index.manifest.labels.length), 0);
    checkDemonstrations(several ? 'queries' : 'k', asked, this.limits);
    const plan: DemoPlan = { queries: planned };
    this.plans.add(plan);
    return plan;
  }

  /**
   * Runs a plan: its sentences go to the embedder as one request per embedder (scheduled fairly beside other
   * requests), and each query's demonstrations are yielded, in order, as soon as its own vector is back, so a
   * batch's first results come while the rest are still being embedded. Search, per-label selection and merging
   * run as units of the main thread shared with other requests (MainThreadShare): a request's first few ms at once,
   * then a slice per turn of the event loop, so a big batch never holds interactive requests up for long. An
   * aborted signal, or the caller leaving the loop, stops the work where it is and drops the sentences not yet
   * embedded.
   */
  async *run(plan: DemoPlan, signal?: AbortSignal): AsyncGenerator<DemoResponse> {
    yield* this.runEach(plan, signal, (result) => result);
  }

  /** `run`, each result as its JSON text, serialised as one more unit of the shared main-thread work (HTTP streams these). */
  async *runJson(plan: DemoPlan, signal?: AbortSignal): AsyncGenerator<string> {
    yield* this.runEach(plan, signal, (result) => JSON.stringify(result));
  }

  /**
   * `runJson` with each text already encoded (UTF-8) in the same unit: a GET's answer (~50 KB for per-label k=20) then
   * leaves for the socket without another pass over it outside the shared main-thread work.
   */
  async *runJsonBytes(plan: DemoPlan, signal?: AbortSignal): AsyncGenerator<Buffer> {
    yield* this.runEach(plan, signal, (result) => Buffer.from(JSON.stringify(result)));
  }

  private async *runEach<T>(plan: DemoPlan, signal: AbortSignal | undefined, finish: (result: DemoResponse) => T): AsyncGenerator<T> {
    this.checkOpen('run');
    if (!this.plans.has(plan)) throw new InputError('plan', 'must be a plan this service made (DemoService.plan)');
    const started = performance.now();
    const { queries } = plan;
    // Stops the embedding also when the caller stops iterating without aborting its own signal.
    const stop = new AbortController();
    const abort = () => stop.abort();
    if (signal?.aborted) stop.abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      const vectors = this.embedEach(queries, stop.signal);
      const turns = this.share.join(stop.signal);
      for (const [i, p] of queries.entries()) {
        const embedded = await vectors[i];
        let steps: Generator<void, Demonstration[]> | undefined;
        let demonstrations: Demonstration[] | undefined;
        while (!demonstrations) {
          // One search per unit (per-label: one per label), the first also projecting the query into its space.
          const step = await turns.run(() => (steps ??= retrieveInSteps(p.space, p.space.queryVector(embedded), p.selection)).next());
          if (step.done) demonstrations = step.value;
        }
        const result: DemoResponse = {
          index: p.name,
          embedder: p.index.manifest.embedder.id,
          took_ms: Number((performance.now() - started).toFixed(2)),
          demonstrations,
        };
        yield await turns.run(() => finish(result));
      }
    } finally {
      signal?.removeEventListener('abort', abort);
      // A reason of our own: abort() without one builds a DOMException, stack trace and all, on every request.
      stop.abort(RUN_ENDED);
    }
  }

  /** Each query's embedder vector, as a promise settled when its own call returns; one request per embedder. */
  private embedEach(queries: readonly PlannedQuery[], signal: AbortSignal): Promise<Float32Array>[] {
    const vectors: Promise<Float32Array>[] = new Array(queries.length);
    const byEmbedder = new Map<Embedder, number[]>();
    for (const [i, p] of queries.entries()) {
      const embedder = this.embedderFor(p.index);
      const mine = byEmbedder.get(embedder);
      if (mine) mine.push(i);
      else byEmbedder.set(embedder, [i]);
    }
    for (const [embedder, mine] of byEmbedder) {
      const texts = mine.map((i) => queries[i].text);
      let each: Promise<Float32Array>[];
      if (embedder.embedEach) {
        each = embedder.embedEach(texts, { signal });
      } else {
        const all = embedder.embed(texts, { signal });
        each = texts.map((_, n) => all.then((v) => v[n]));
        for (const vector of each) vector.catch(() => {});
      }
      mine.forEach((i, n) => (vectors[i] = each[n]));
    }
    return vectors;
  }

  async demonstrations(query: DemoQueryOptions, signal?: AbortSignal): Promise<DemoResponse> {
    const [result] = await this.demonstrationsBatch([query], signal);
    return result;
  }

  /** Several queries, planned then run, all results at once (the CLI, tests; HTTP streams `run`). */
  async demonstrationsBatch(queries: readonly DemoQueryOptions[], signal?: AbortSignal): Promise<DemoResponse[]> {
    const results: DemoResponse[] = [];
    for await (const result of this.run(this.plan(queries), signal)) results.push(result);
    return results;
  }

  /**
   * One prompt for a dialogue sent in a request (POST /prompts). Limits are checked before anything is embedded:
   * the dialogue's characters, the demonstrations asked for, and the prompt's size, rendered once without
   * demonstrations (a template that repeats the history is refused here, not after it has filled memory).
   */
  async prompt(given: PromptRequestInput, signal?: AbortSignal): Promise<{ prompt: string; target: string | null; demonstrations: Demonstration[]; took_ms: number }> {
    const started = performance.now();
    this.checkOpen('prompt');
    // The rules of POST /prompts (prompt-request.ts), for a program's call as for a body already checked by them.
    const request = parseInput(PromptRequestSchema, given, 'request');
    const { index } = this.index(request.index);
    const format = resolveFormat(request.format);
    const corpus = request.dialogue.corpus ?? index.manifest.corpus;
    const o = request.options;
    checkList('options.labels', o.labels, this.limits);
    checkList('options.exclude_dialogue', o.exclude_dialogue, this.limits);
    checkList('options.corpus', o.corpus, this.limits);
    const corpora = o.corpus ? resolveCorpora(index.manifest, o.corpus, 'options.corpus') : undefined;
    const ownLabel = (label: string) => inIndexSpace(index.manifest, corpus, label);
    checkRequestChars('dialogue.turns', request.dialogue.turns.map((t) => t.text), this.limits);
    let labels: string[] | undefined;
    try {
      labels = o.labels ? resolveLabels(corpus, index.manifest.labels, o.labels) : undefined;
    } catch (error) {
      throw error instanceof InputError ? new InputError('options.labels', error.message.replace(/^labels: /, ''), error.code) : error;
    }
    checkDemonstrations('options.k', demonstrationsAsked({ k: o.k, strategy: o.strategy, labels }, index.manifest.labels.length), this.limits);
    const turns = request.dialogue.turns.map((t, i) => {
      const given = t.labels ?? (t.label !== undefined ? [t.label] : undefined);
      checkList(`dialogue.turns.${i}.labels`, given, this.limits);
      try {
        return { speaker: t.speaker, text: t.text, scores: t.scores, labels: given && resolveLabels(corpus, index.manifest.labels, given.map(ownLabel)) };
      } catch (error) {
        throw new InputError(`dialogue.turns.${i}.label`, (error as Error).message.replace(/^labels: /, ''));
      }
    });
    if (request.target < 0 || request.target >= turns.length) {
      throw new InputError('target', `must be a turn index in 0..${turns.length - 1}, got ${request.target}`);
    }
    const job = { corpus, dialogueId: request.dialogue.id, turns, target: request.target };
    const options = {
      k: o.k, strategy: o.strategy, window: o.window, unified: o.unified, labels, corpora, allowEvalSplits: o.allow_eval_demos,
      excludeDialogues: o.exclude_dialogue, dedup: o.dedup, lambda: o.lambda, crossFit: o.cross_fit, maxPromptChars: this.limits.maxPromptChars, signal,
    };
    checkPromptSize(index, format, job, options);
    const [built] = await buildPrompts(index, this.embedderFor(index), format, [job], options);
    return { ...built, took_ms: Number((performance.now() - started).toFixed(2)) };
  }

  /**
   * Adds dialogues to an index, durably: checked (labels in the index's space, ids not held, limits), embedded with the
   * index's embedder (scheduled beside queries), then written through its log. When it returns, the write is on disk
   * and this service answers with it; other processes serving the folder apply it within ERC_DEMOS_WRITES_POLL_MS.
   */
  async addDialogues(given: { index?: string; dialogues: WriteDialogueInput[] }, signal?: AbortSignal): Promise<AddDialoguesResult> {
    const started = performance.now();
    this.checkOpen('addDialogues');
    const request = parseInput(AddRequestSchema, given, 'body');
    const { name, index } = this.index(request.index);
    const turns = request.dialogues.reduce((n, d) => n + d.turns.length, 0);
    if (turns > this.limits.maxWriteUtterances) {
      throw new LimitError('dialogues', `hold ${turns} utterances, over this service's limit of ${this.limits.maxWriteUtterances} in one write (ERC_DEMOS_MAX_WRITE_UTTERANCES)`);
    }
    const dialogues = toWrittenDialogues(index.manifest, request.dialogues);
    // Refused before the embedder works, and again under the write lock (another writer may add the same id meanwhile).
    const placeholder = new Float32Array(index.manifest.embedder.dim);
    const precheck = { op: 'add' as const, dialogues, vectors: dialogues.flatMap((d) => d.turns.map(() => placeholder)) };
    try {
      index.checkWrite(precheck);
    } catch (error) {
      throw writeError(error, 'dialogues');
    }
    // Serving, in short calls of their own: a query arriving meanwhile waits for one of them at most (ERC_DEMOS_WRITE_CALL_ITEMS).
    const calls = this.limits.writeCallItems === undefined ? {} : { callItems: this.limits.writeCallItems };
    const vectors = await this.embedderFor(index).embed(dialogues.flatMap((d) => d.turns.map((t) => t.text)), { signal, ...calls });
    this.checkOpen('addDialogues');
    const seq = await this.write(name, { op: 'add', dialogues, vectors }, 'dialogues');
    return {
      index: name, seq, took_ms: Number((performance.now() - started).toFixed(2)),
      dialogues: dialogues.map((d) => ({ id: d.id, rows: [...index.dialogueRows(d.id)] })),
    };
  }

  /** Gives one turn of an indexed dialogue new gold labels (in its corpus' names or the index's); answered at once. */
  async relabel(given: { index?: string; dialogue: string; turn: number; label?: string; labels?: string[] }): Promise<RelabelResult> {
    const started = performance.now();
    this.checkOpen('relabel');
    const request = parseInput(RelabelRequestSchema, given, 'body');
    const { name, index } = this.index(request.index);
    const ids = index.dialogueRows(request.dialogue);
    if (ids.length === 0) throw new InputError('dialogue', `the index holds no dialogue "${request.dialogue}"`, 'NOT_FOUND');
    const corpus = index.rows[ids[0]].corpus;
    const { labels, sourceLabels } = labelsInIndex(index.manifest, corpus, givenLabels(request, '', index.manifest.multi_label), request.label !== undefined ? 'label' : 'labels');
    const seq = await this.write(name, { op: 'relabel', dialogue: request.dialogue, turn: request.turn, labels, sourceLabels });
    const id = index.dialogueRows(request.dialogue).find((r) => index.rows[r].turn === request.turn)!;
    return { index: name, seq, took_ms: Number((performance.now() - started).toFixed(2)), dialogue: request.dialogue, turn: request.turn, id, labels, source_labels: sourceLabels };
  }

  /** Removes a dialogue from an index: its rows are never returned again, by any door or strategy, from now on. */
  async removeDialogue(given: { index?: string; dialogue: string }): Promise<RemoveResult> {
    const started = performance.now();
    this.checkOpen('removeDialogue');
    const request = parseInput(DialogueRefSchema, given, 'body');
    const { name, index } = this.index(request.index);
    const removed = index.dialogueRows(request.dialogue).length;
    const seq = await this.write(name, { op: 'remove', dialogue: request.dialogue });
    return { index: name, seq, took_ms: Number((performance.now() - started).toFixed(2)), dialogue: request.dialogue, removed };
  }

  /**
   * Applies what other processes wrote to the served index folders since the last call (a replica's poll), and names
   * the indexes whose folder now holds another build (compacted or rebuilt), for the caller to reopen.
   */
  refreshWrites(): string[] {
    if (this.closed) return [];
    const rebuilt: string[] = [];
    for (const [name, writes] of this.writes) if (writes.refresh() === ('rebuilt' satisfies FollowState)) rebuilt.push(name);
    return rebuilt;
  }

  /** What was written to a served index since its build (GET /indexes). */
  writtenSummary(name: string): WrittenSummary {
    const { index } = this.index(name);
    const { counts, rows, builtCount } = index.writtenState;
    const written = counts.added + counts.relabelled + counts.removed;
    // A removed row stays as a tombstone (its id is never reused) and is removed once.
    return { seq: this.writeSeq(name), ...counts, rows: rows.length - counts.removed, share: builtCount ? Number((written / builtCount).toFixed(4)) : 0 };
  }

  /** The seq of the last write an index holds (0: none since its build). */
  writeSeq(name: string): number {
    return this.writes.get(name)?.seq ?? 0;
  }

  private async write(name: string, write: Parameters<IndexWrites['write']>[0], param?: string): Promise<number> {
    try {
      return await this.writes.get(name)!.write(write);
    } catch (error) {
      throw writeError(error, param);
    }
  }
}
