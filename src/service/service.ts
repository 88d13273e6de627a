import { createEmbedder } from '../embed/create.js';
import type { Embedder } from '../embed/types.js';
import { InputError } from '../errors.js';
import { DemoIndex } from '../index/open.js';
import { retrieve } from '../retrieve/retrieve.js';
import { resolveLabels, type Demonstration } from '../retrieve/select.js';
import { effectiveK, type DemoQuery } from './query.js';

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
  static async load(dirs: readonly string[], options: { embedder?: string; names?: readonly (string | undefined)[] } = {}): Promise<DemoService> {
    if (dirs.length === 0) throw new Error('no index to serve');
    const embedders = new Map<string, Embedder>();
    const indexes = new Map<string, DemoIndex>();
    const forced = options.embedder ? await createEmbedder(options.embedder) : undefined;
    if (forced) embedders.set(forced.id, forced);
    for (const [i, dir] of dirs.entries()) {
      const peek = await DemoIndex.open(dir, { verify: false, ...(forced ? { embedder: forced } : {}) });
      const id = peek.manifest.embedder.id;
      if (!embedders.has(id)) embedders.set(id, await createEmbedder(id));
      const index = await DemoIndex.open(dir, { embedder: embedders.get(id)! });
      const name = options.names?.[i] ?? index.name;
      if (indexes.has(name)) throw new Error(`two indexes are named "${name}"; name them with --index name=<dir>`);
      indexes.set(name, index);
    }
    // The first call of a TensorFlow.js model compiles its kernels (~100 ms): pay it at start, not on a request.
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

  async demonstrations(query: DemoQuery): Promise<DemoResponse> {
    const started = performance.now();
    const { name, index } = this.index(query.index);
    const labels = query.labels ? resolveLabels(index.manifest.corpus, index.manifest.labels, query.labels) : undefined;
    if (query.split) {
      const unknown = query.split.find((s) => !index.manifest.splits.includes(s));
      if (unknown) throw new InputError('split', `unknown split "${unknown}" (index holds: ${index.manifest.splits.join(', ')})`);
    }
    const [vector] = await this.embedderFor(index).embed([query.utterance]);
    const demonstrations = retrieve(index, vector, {
      k: effectiveK(query), strategy: query.strategy, labels, splits: query.split, excludeDialogues: query.exclude_dialogue,
    });
    return {
      index: name,
      embedder: index.manifest.embedder.id,
      took_ms: Number((performance.now() - started).toFixed(2)),
      demonstrations,
    };
  }
}
