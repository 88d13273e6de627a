import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import type { Dialogue } from '../src/corpus/types.js';
import { fixedCalls, FairQueue } from '../src/embed/fair-queue.js';
import { startUseLitePool } from '../src/embed/pool.js';
import { ScheduledEmbedder, type EmbedExecutor } from '../src/embed/scheduler.js';
import { buildIndex } from '../src/index/build.js';
import { FILES, type Manifest } from '../src/index/manifest.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { HAVE_SHARED, SHARED_DATA, tempDir, utteranceCount } from './helpers.js';

// Issue 23: the same corpus, settings and seeds on the same machine give the same index, byte for byte. The
// embedder packs the sentences of one call (USE-lite) and a sentence's vector moves by ~1e-6 with its company, so
// a build's calls are cut at fixed positions of its input (EmbedOptions.fixedCalls), never by timing.

describe('fixed calls (fair queue and scheduler)', () => {
  it('cuts by count and cost from the start, a costlier item alone', () => {
    expect(fixedCalls([1, 1, 1, 1, 1], 2, 100)).toEqual([2, 2, 1]);
    expect(fixedCalls([3, 3, 10, 3], 32, 6)).toEqual([2, 1, 1]);
    expect(fixedCalls([], 32, 6)).toEqual([]);
  });

  it('a ticket with fixed calls is served in those calls, whole and alone, whatever else is queued', () => {
    const queue = new FairQueue<string>();
    const items = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}`, cost: 1 }));
    queue.add(items('q', 3));
    queue.add(items('b', 5), [2, 3]);
    queue.add(items('r', 2));
    const calls: string[][] = [];
    while (queue.size > 0) calls.push(queue.take({ maxItems: 2, maxCost: 100 }).map((c) => c.value));
    // The fixed ticket's calls are exactly its cuts, whole even where they pass the limits of a shared call; shared
    // calls never hold its items.
    expect(calls.filter((c) => c.some((v) => v.startsWith('b')))).toEqual([['b0', 'b1'], ['b2', 'b3', 'b4']]);
    expect(calls.flat().sort()).toEqual([...items('q', 3), ...items('b', 5), ...items('r', 2)].map((i) => i.value).sort());
  });

  it('a request with fixedCalls gets the same calls whatever the timing and the other requests', async () => {
    // Executors that record each call and answer after a random delay: the schedule differs from run to run.
    const run = async (seed: number) => {
      let state = seed;
      const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
      const seen: string[][] = [];
      const executors: EmbedExecutor[] = Array.from({ length: 3 }, () => ({
        alive: true,
        run: async (texts: string[]) => {
          seen.push(texts);
          await new Promise((r) => setTimeout(r, random() * 4));
          return texts.map(() => new Float32Array(2));
        },
      }));
      const embedder = new ScheduledEmbedder('test', 2, executors, { callItems: 4, callChars: 40, maxExecutorsPerRequest: 3 });
      const batch = Array.from({ length: 40 }, (_, i) => `batch ${i}${'x'.repeat(i % 7)}`);
      const others: Promise<unknown>[] = [];
      const chunks = [batch.slice(0, 16), batch.slice(16, 32), batch.slice(32)];
      const done = chunks.map(async (chunk, n) => {
        await new Promise((r) => setTimeout(r, random() * 3 * n));
        for (let q = 0; q < 3; q++) others.push(embedder.embed([`query ${n}.${q}`]));
        return embedder.embed(chunk, { fixedCalls: true });
      });
      await Promise.all([...done, ...others]);
      await embedder.close();
      return seen.filter((call) => call.some((t) => t.startsWith('batch'))).map((call) => call.join('|')).sort();
    };
    const first = await run(1);
    expect(first.every((call) => !call.includes('query'))).toBe(true);
    for (const seed of [2, 3, 4]) expect(await run(seed)).toEqual(first);
  });
});

/** MELD train's first 300 dialogues (~2,800 utterances) where the shared data exists, else the built-in sample. */
function corpus(): { dialogues: Dialogue[]; corpus: string; splits: string[] } {
  if (!HAVE_SHARED) return { dialogues: loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' }).dialogues, corpus: 'sample', splits: ['train'] };
  return { dialogues: loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: ['train'] }).dialogues.slice(0, 300), corpus: 'meld', splits: ['train'] };
}

/** The manifest without what measures the build's time (and so differs between any two builds). */
function timeless(dir: string): Omit<Manifest, 'built_at' | 'build_seconds'> {
  const { built_at: _at, build_seconds: _seconds, ...rest } = JSON.parse(readFileSync(join(dir, FILES.manifest), 'utf8')) as Manifest;
  const selection = rest.space_selection as { seconds?: number };
  if (selection.seconds !== undefined) selection.seconds = 0;
  return rest;
}

/**
 * The first `delays.length` of the pool's threads, each call on thread n delayed by `delays[n]` ms (a core shared
 * with another process), so that calls finish in another order and the next chunk arrives at another moment.
 */
function slowed(pool: ScheduledEmbedder, delays: readonly number[]): ScheduledEmbedder {
  const executors: EmbedExecutor[] = pool.executors.slice(0, delays.length).map((executor, n) => ({
    get alive() {
      return executor.alive;
    },
    run: async (texts: string[]) => {
      if (delays[n]) await new Promise((r) => setTimeout(r, delays[n]));
      return executor.run(texts);
    },
  }));
  return new ScheduledEmbedder(pool.id, pool.dim, executors, { callItems: 32, callChars: Number.POSITIVE_INFINITY, maxExecutorsPerRequest: executors.length },
    undefined, { fingerprint: pool.fingerprint, loaded: pool.loaded, maxChars: pool.maxChars });
}

describe('two builds of the same corpus and settings, on one thread and on two (one slowed)', () => {
  const root = tempDir('erc-demos-repro-');
  let pool: ScheduledEmbedder | undefined;
  afterAll(async () => pool?.close());

  it('write the same vectors, graph, SQLite file and manifest (time stamps aside)', async () => {
    const data = corpus();
    // The build's default batch (chunks of 256 utterances, four queued at once), on one thread, then on two with one
    // of them slowed: before fixed calls, which sentences shared a call depended on the order calls finished in and on
    // when the next chunk arrived (this test, run on that code, fails). With them, the vectors depend on neither, nor
    // on the number of threads. Raw vectors (`--projection none`): the main thread puts each chunk into the graph as
    // it returns, so the graph's insertion order is exercised as well.
    pool = await startUseLitePool(2, { callItems: 32, callChars: Number.POSITIVE_INFINITY, maxExecutorsPerRequest: 2 });
    const rows = utteranceCount(data.dialogues);
    const build = (at: string, delays: number[]) => buildIndex({
      ...data, embedder: slowed(pool!, delays), out: join(root, at, 'index'), batchSize: 1024, projection: { kind: 'none' },
    });
    const first = await build('a', [0]);
    const second = await build('b', [40, 0]);
    expect(second.checksums).toEqual(first.checksums);
    const [a, b] = [join(root, 'a', 'index'), join(root, 'b', 'index')];
    const files = readdirSync(a).sort();
    expect(readdirSync(b).sort()).toEqual(files);
    for (const file of files) {
      if (file === FILES.manifest || file === FILES.manifestSum) continue;
      expect(readFileSync(join(b, file)).equals(readFileSync(join(a, file))), file).toBe(true);
    }
    expect(timeless(b)).toEqual(timeless(a));
    // The SQLite content too (the bytes already match; this says what they hold).
    const content = (dir: string) => {
      const db = new Database(join(dir, FILES.meta), { readonly: true });
      try {
        return db.prepare('SELECT * FROM utterances ORDER BY id').all();
      } finally {
        db.close();
      }
    };
    const rowsA = content(a);
    expect(rowsA.length).toBe(rows);
    expect(content(b)).toEqual(rowsA);
  });
});
