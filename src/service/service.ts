import { createEmbedder, type EmbedRole } from '../embed/create.js';
import type { Embedder } from '../embed/types.js';
import { InputError } from '../errors.js';
import { DemoIndex, IndexLoadError, readManifest } from '../index/open.js';
import { retrieve } from '../retrieve/retrieve.js';
import { resolveLabels, type Demonstration, type SelectionOptions } from '../retrieve/select.js';
import { resolveFormat, type PromptRequest } from './prompt-request.js';
import { buildPrompts } from './prompts.js';
import { effectiveK, type DemoQuery } from './query.js';

/** A query's values, from GET (comma lists) or POST (arrays) alike. */
type DemoQueryValues = Omit<DemoQuery, 'labels' | 'split' | 'exclude_dialogue'> & { labels?: string[]; split?: string[]; exclude_dialogue?: string[] };

export interface DemoResponse {
  index: string;
  embedder: string;
  took_ms: number;
  demonstrations: Demonstration[];
}

/**
 * The library behind both doors: loaded indexes (by name) and one embedder per embedder id they need. Each index
 * is opened against the embedder it names, so a mismatch is refused at load, not discovered at query time.
 */
export class DemoService {
  private constructor(
    readonly indexes: ReadonlyMap<string, DemoIndex>,
    private readonly embedders: ReadonlyMap<string, Embedder>,
  ) {}

  /** Opens index directories; `embedder` (a spec) forces one embedder and refuses indexes built with another. */
  static async load(
    dirs: readonly string[],
    options: { embedder?: string; names?: readonly (string | undefined)[]; role?: EmbedRole } = {},
  ): Promise<DemoService> {
    if (dirs.length === 0) throw new Error('no index to serve');
    const embedders = new Map<string, Embedder>();
    const indexes = new Map<string, DemoIndex>();
    const manifests = dirs.map((dir) => readManifest(dir));
    // Refused before any model loads: an embedder spec is the id it stores, so a mismatch is known from the spec.
    for (const [i, manifest] of manifests.entries()) {
      if (options.embedder && options.embedder !== manifest.embedder.id) {
        throw new IndexLoadError(dirs[i], `built with embedder ${manifest.embedder.id} (${manifest.embedder.dim} dims), but this run uses ` +
          `${options.embedder}; rebuild the index with this embedder or query it with the one it was built with`);
      }
    }
    const ids = new Set(manifests.map((m) => m.embedder.id));
    if (ids.has('use-lite') && [...ids].some((id) => id.startsWith('transformers:'))) {
      throw new InputError('embedder', 'use-lite and transformers.js indexes cannot be served by one process (each brings its own ' +
        'onnxruntime, and the two corrupt each other); serve them from two processes');
    }
    const forced = options.embedder ? await createEmbedder(options.embedder, options.role) : undefined;
    if (forced) embedders.set(forced.id, forced);
    for (const [i, dir] of dirs.entries()) {
      const id = forced?.id ?? manifests[i].embedder.id;
      if (!embedders.has(id)) embedders.set(id, await createEmbedder(id, options.role));
      const index = await DemoIndex.open(dir, { embedder: embedders.get(id)! });
      const name = options.names?.[i] ?? index.name;
      if (indexes.has(name)) throw new Error(`two indexes are named "${name}"; name them with --index name=<dir>`);
      indexes.set(name, index);
    }
    // A model's first call allocates and plans (tens of ms): pay it at start, not on a request.
    for (const embedder of embedders.values()) await embedder.embed(['warm up']);
    return new DemoService(indexes, embedders);
  }

  /** The named index, or the only one when no name is given, with the name it is served under. */
  index(name?: string): { name: string; index: DemoIndex } {
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

  /** Validates a query against its index (labels, splits) and returns the selection to run. */
  private selection(index: DemoIndex, query: DemoQueryValues): SelectionOptions {
    const labels = query.labels ? resolveLabels(index.manifest.corpus, index.manifest.labels, query.labels) : undefined;
    if (query.split) {
      const unknown = query.split.find((s) => !index.manifest.splits.includes(s));
      if (unknown) throw new InputError('split', `unknown split "${unknown}" (index holds: ${index.manifest.splits.join(', ')})`);
    }
    return { k: effectiveK(query), strategy: query.strategy, labels, splits: query.split, excludeDialogues: query.exclude_dialogue, dedup: query.dedup };
  }

  async demonstrations(query: DemoQuery): Promise<DemoResponse> {
    const [result] = await this.demonstrationsBatch([query]);
    return result;
  }

  /** Several queries: validated first (nothing runs if one is bad), then one embedder call per index. */
  async demonstrationsBatch(queries: readonly DemoQueryValues[]): Promise<DemoResponse[]> {
    const started = performance.now();
    const planned = queries.map((query, i) => {
      try {
        const { name, index } = this.index(query.index);
        return { name, index, selection: this.selection(index, query), text: query.utterance };
      } catch (error) {
        if (error instanceof InputError && queries.length > 1) throw new InputError(`queries.${i}.${error.param}`, error.message.slice(error.param.length + 2));
        throw error;
      }
    });
    const vectors = new Map<number, Float32Array>();
    for (const index of new Set(planned.map((p) => p.index))) {
      const mine = planned.flatMap((p, i) => (p.index === index ? [i] : []));
      const embedded = await this.embedderFor(index).embed(mine.map((i) => planned[i].text));
      mine.forEach((i, n) => vectors.set(i, index.queryVector(embedded[n])));
    }
    const took = Number((performance.now() - started).toFixed(2));
    return planned.map((p, i) => ({
      index: p.name,
      embedder: p.index.manifest.embedder.id,
      took_ms: took,
      demonstrations: retrieve(p.index, vectors.get(i)!, p.selection),
    }));
  }

  /** One prompt for a dialogue sent in a request (POST /prompts). */
  async prompt(request: PromptRequest): Promise<{ prompt: string; target: string | null; demonstrations: Demonstration[]; took_ms: number }> {
    const started = performance.now();
    const { index } = this.index(request.index);
    const format = resolveFormat(request.format);
    const corpus = index.manifest.corpus;
    const o = request.options;
    const labels = o.labels ? resolveLabels(corpus, index.manifest.labels, o.labels) : undefined;
    const turns = request.dialogue.turns.map((t, i) => {
      const given = t.labels ?? (t.label !== undefined ? [t.label] : undefined);
      try {
        return { speaker: t.speaker, text: t.text, scores: t.scores, labels: given && resolveLabels(corpus, index.manifest.labels, given) };
      } catch (error) {
        throw new InputError(`dialogue.turns.${i}.label`, (error as Error).message.replace(/^labels: /, ''));
      }
    });
    if (request.target < 0 || request.target >= turns.length) {
      throw new InputError('target', `must be a turn index in 0..${turns.length - 1}, got ${request.target}`);
    }
    const [built] = await buildPrompts(index, this.embedderFor(index), format, [{
      corpus, dialogueId: request.dialogue.id, turns, target: request.target,
    }], {
      k: o.k, strategy: o.strategy, window: o.window, unified: o.unified, labels, allowEvalSplits: o.allow_eval_demos,
      excludeDialogues: o.exclude_dialogue, dedup: o.dedup,
    });
    return { ...built, took_ms: Number((performance.now() - started).toFixed(2)) };
  }
}
