import { Counter, Gauge, type Registry } from 'prom-client';
import { CachedEmbedder } from './query-cache.js';
import type { Embedder } from './types.js';

/**
 * The query cache's metrics for GET /metrics, by embedder id: hits (texts answered without a new embedding), misses
 * (texts embedded), entries and bytes held. Read from the caches when scraped: a cache outlives the app made on a
 * reload (serve shares its embedders), so its counts are its own lifetime's and keep rising across reloads.
 */
export function registerQueryCacheMetrics(registry: Registry, embedders: ReadonlyMap<string, Embedder>): void {
  const cached = [...embedders].filter((e): e is [string, CachedEmbedder] => e[1] instanceof CachedEmbedder);
  const labelNames = ['embedder'] as const;
  const counter = (name: string, help: string, read: (e: CachedEmbedder) => number) => new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [id, e] of cached) this.inc({ embedder: id }, read(e));
    },
  });
  const gauge = (name: string, help: string, read: (e: CachedEmbedder) => number) => new Gauge({
    name, help, labelNames, registers: [registry],
    collect() {
      for (const [id, e] of cached) this.set({ embedder: id }, read(e));
    },
  });
  counter('erc_demos_embed_cache_hits_total', 'query texts answered without a new embedding (cached, or joining the same text in flight)', (e) => e.stats.hits);
  counter('erc_demos_embed_cache_misses_total', 'query texts embedded (not in the cache)', (e) => e.stats.misses);
  gauge('erc_demos_embed_cache_entries', 'query vectors held in the cache', (e) => e.cache.entries);
  gauge('erc_demos_embed_cache_bytes', 'bytes the cache holds, as counted against ERC_DEMOS_EMBED_CACHE_MB', (e) => e.cache.bytes);
}
