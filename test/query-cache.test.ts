import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder, createQueryEmbedder } from '../src/embed/create.js';
import { CachedEmbedder, entryBytes, QueryVectorCache, withQueryCache } from '../src/embed/query-cache.js';
import type { Embedder } from '../src/embed/types.js';
import { buildIndex } from '../src/index/build.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { createMetrics } from '../src/server/metrics.js';
import { DemoService } from '../src/service/service.js';
import { DEFAULT_SETTINGS, settingsFromEnv, type Settings } from '../src/settings.js';
import { tempDir } from './helpers.js';

// The real USE-lite model, in this thread (one runtime, no worker threads to leave behind).
const settings: Settings = { ...DEFAULT_SETTINGS, embedThreads: '0' };
let model: Embedder;

beforeAll(async () => {
  model = await createEmbedder('use-lite', 'serve', settings);
});
afterAll(async () => {
  await model.close?.();
});

/** The model behind a cache that counts what reaches it. */
function counted(inner: Embedder): Embedder & { reached: string[] } {
  const reached: string[] = [];
  return {
    id: inner.id, dim: inner.dim, fingerprint: inner.fingerprint, reached,
    embed: (texts, options) => (reached.push(...texts), inner.embed(texts, options)),
    embedEach: (texts, options) => (reached.push(...texts), inner.embedEach!(texts, options)),
  };
}

const MELD_LIKE = ['Okay.', 'Yeah.', 'What?', 'Okay.', 'I can not believe you did that!', 'Yeah.', 'Okay.', 'Oh my God.', 'What?'];

describe('query vector cache over the real embedder', () => {
  it('gives the vectors the embedder gives, cache on and off, and counts hits and misses', async () => {
    const cached = new CachedEmbedder(counted(model), new QueryVectorCache(1 << 20));
    // One text per call on both sides: the same company in every call, so the same vector to the bit.
    for (const text of MELD_LIKE) {
      const [off] = await model.embed([text]);
      const [on] = await cached.embed([text]);
      expect(Array.from(on)).toEqual(Array.from(off));
      expect(on.length).toBe(512);
    }
    const distinct = new Set(MELD_LIKE).size;
    expect(cached.stats).toEqual({ hits: MELD_LIKE.length - distinct, misses: distinct });
    expect((cached.inner as ReturnType<typeof counted>).reached).toEqual([...new Set(MELD_LIKE)]);
    expect(cached.cache.entries).toBe(distinct);
  });

  it('hands out copies: a caller changing its vector does not change the cache', async () => {
    const cached = new CachedEmbedder(model, new QueryVectorCache(1 << 20));
    const [first] = await cached.embed(['Okay.']);
    const kept = Array.from(first);
    first.fill(0);
    const [again] = await cached.embed(['Okay.']);
    again.fill(1);
    expect(Array.from((await cached.embed(['Okay.']))[0])).toEqual(kept);
  });

  it('embeds a text repeated in one call, or asked by two requests at once, once', async () => {
    const inner = counted(model);
    const cached = new CachedEmbedder(inner, new QueryVectorCache(1 << 20));
    const a = cached.embedEach(['Yeah.', 'What?', 'Yeah.']);
    const b = cached.embedEach(['What?']);
    const [ya, wa, yb] = await Promise.all(a);
    const [wb] = await Promise.all(b);
    expect(inner.reached).toEqual(['Yeah.', 'What?']);
    expect(Array.from(yb)).toEqual(Array.from(ya));
    expect(Array.from(wb)).toEqual(Array.from(wa));
    expect(cached.stats).toEqual({ hits: 2, misses: 2 });
  });

  it('keeps within its byte budget, dropping the least recently used', async () => {
    const [probe] = await model.embed(['x']);
    const texts = Array.from({ length: 12 }, (_, i) => `utterance number ${i}`);
    const budget = 3 * entryBytes(`${'\u0000'.repeat(40)}${texts[0]}`, probe); // room for three entries
    const inner = counted(model);
    const cached = new CachedEmbedder(inner, new QueryVectorCache(budget));
    for (const text of texts) {
      await cached.embed([text]);
      expect(cached.cache.bytes).toBeLessThanOrEqual(budget);
      expect(cached.cache.entries).toBeLessThanOrEqual(3);
    }
    expect(cached.cache.entries).toBe(3);
    await cached.embed([texts[11]]); // still held
    await cached.embed([texts[0]]); // evicted long ago: embedded again
    expect(cached.stats).toEqual({ hits: 1, misses: 13 });
  });

  it('lets a build\'s fixed calls through uncounted and uncached', async () => {
    const inner = counted(model);
    const cached = new CachedEmbedder(inner, new QueryVectorCache(1 << 20));
    await cached.embed(['Okay.', 'Okay.'], { fixedCalls: true });
    expect(inner.reached).toEqual(['Okay.', 'Okay.']);
    expect(cached.stats).toEqual({ hits: 0, misses: 0 });
    expect(cached.cache.entries).toBe(0);
  });

  it('is off with 0: the embedder itself, uncached', async () => {
    expect(withQueryCache(model, 0)).toBe(model);
    expect(settingsFromEnv({ ERC_DEMOS_EMBED_CACHE_MB: '0' }).embedCacheMb).toBe(0);
    expect(settingsFromEnv({}).embedCacheMb).toBe(DEFAULT_SETTINGS.embedCacheMb);
    expect(DEFAULT_SETTINGS.embedCacheMb).toBeGreaterThan(0);
    expect(() => settingsFromEnv({ ERC_DEMOS_EMBED_CACHE_MB: '-1' })).toThrow(/ERC_DEMOS_EMBED_CACHE_MB/);
    const off = await createQueryEmbedder('use-lite', 'serve', { ...settings, embedCacheMb: 0 });
    try {
      expect(off).not.toBeInstanceOf(CachedEmbedder);
    } finally {
      await off.close?.();
    }
  });
});

describe('a service answers repeated queries from the cache, and /metrics counts them', () => {
  const dir = tempDir();
  const indexDir = join(dir, 'sample');
  let service: DemoService;

  beforeAll(async () => {
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder: model, out: indexDir, name: 'sample' });
    service = await DemoService.load([indexDir], { role: 'serve', settings });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('gives the same demonstrations from a cached vector, and counts hits and misses', async () => {
    const embedder = service.embedderFor(service.index().index);
    expect(embedder).toBeInstanceOf(CachedEmbedder);
    const before = { ...(embedder as CachedEmbedder).stats };
    const first = await service.demonstrations({ utterance: 'Why would you say that?', k: 4 });
    const [again, batch] = [await service.demonstrations({ utterance: 'Why would you say that?', k: 4 }),
      await service.demonstrationsBatch([{ utterance: 'Why would you say that?', k: 4 }, { utterance: 'Fine, whatever.', k: 4 }])];
    expect(again.demonstrations).toEqual(first.demonstrations);
    expect(batch[0].demonstrations).toEqual(first.demonstrations);
    const stats = (embedder as CachedEmbedder).stats;
    expect(stats.hits - before.hits).toBe(2);
    expect(stats.misses - before.misses).toBe(2);

    const metrics = await createMetrics(service).registry.metrics();
    expect(metrics).toMatch(new RegExp(`erc_demos_embed_cache_hits_total\\{embedder="use-lite"\\} ${stats.hits}\\n`));
    expect(metrics).toMatch(new RegExp(`erc_demos_embed_cache_misses_total\\{embedder="use-lite"\\} ${stats.misses}\\n`));
    expect(metrics).toMatch(/erc_demos_embed_cache_entries\{embedder="use-lite"\} [1-9]/);
    // The scheduler's own metrics still see through the cache.
    expect(metrics).toMatch(/erc_demos_embedder_queue_sentences\{embedder="use-lite"\} 0/);
  });
});
