import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerQueryCacheMetrics } from '../embed/query-cache-metrics.js';
import { uncached } from '../embed/query-cache.js';
import { ScheduledEmbedder } from '../embed/scheduler.js';
import { keyNameOf } from '../keys/auth.js';
import type { DemoService } from '../service/service.js';

export interface Metrics {
  registry: Registry;
  /** Counts and times every answer by method, route and status, and by API key name (requests, refusals, 429s). */
  middleware: (req: Request, res: Response, next: NextFunction) => void;
}

let processRegistry: Registry | undefined;

/**
 * Node's process metrics, collected once per process: prom-client's default collectors (event-loop delay, GC
 * observers) are never stopped, so collectors made per app would keep every app made on a reload alive, and with it
 * the service and its indexes (60 MB per MELD reload).
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'erc_demos_' });
  }
  return processRegistry;
}

/**
 * Prometheus metrics (prom-client) for GET /metrics: requests and their latency by route and status, the embedder
 * queue and the size of its calls, the indexes served (rows, build), and Node's process metrics. Routes are the
 * matched route patterns, never the raw URL (which would hold utterances and explode the label space).
 */
export function createMetrics(service: DemoService): Metrics {
  const registry = new Registry();
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'erc_demos_http_requests_total', help: 'HTTP requests answered, by method, route and status', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'erc_demos_http_request_duration_seconds', help: 'time to answer, by method, route and status', labelNames, registers: [registry],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });
  // By API key name (issue 25): the name from the keys file, "anonymous" for a request without a valid key (a 401
  // is counted there, as the key it came with is none of the service's); never the key itself.
  const keyRequests = new Counter({ name: 'erc_demos_key_requests_total', help: 'HTTP requests answered, by API key name', labelNames: ['key'], registers: [registry] });
  const keyRefusals = new Counter({
    name: 'erc_demos_key_refusals_total', help: 'requests refused by the API keys: 401 (no key or not one of the service\'s) and 403 (scope or index), by key name and status',
    labelNames: ['key', 'status'], registers: [registry],
  });
  const keyLimited = new Counter({ name: 'erc_demos_key_rate_limited_total', help: 'requests answered 429 for being over their key\'s rate, by key name', labelNames: ['key'], registers: [registry] });
  const callSentences = new Histogram({
    name: 'erc_demos_embedder_call_sentences', help: 'sentences per embedder call (requests share calls)', labelNames: ['embedder'], registers: [registry],
    buckets: [1, 2, 4, 8, 16, 32],
  });
  const callChars = new Histogram({
    name: 'erc_demos_embedder_call_chars', help: 'characters per embedder call', labelNames: ['embedder'], registers: [registry],
    buckets: [32, 128, 512, 1024, 2048, 4096, 16384],
  });
  new Gauge({
    name: 'erc_demos_embedder_queue_sentences', help: 'sentences waiting for an embedder thread', labelNames: ['embedder'], registers: [registry],
    collect() {
      for (const [id, cached] of service.embedders) {
        const embedder = uncached(cached);
        if (embedder instanceof ScheduledEmbedder) this.set({ embedder: id }, embedder.queued);
      }
    },
  });
  registerQueryCacheMetrics(registry, service.embedders);
  for (const [id, cached] of service.embedders) {
    const embedder = uncached(cached);
    if (!(embedder instanceof ScheduledEmbedder)) continue;
    embedder.onCall = (sentences, chars) => {
      callSentences.observe({ embedder: id }, sentences);
      callChars.observe({ embedder: id }, chars);
    };
  }
  // Read at each scrape: live writes change them while the index is served.
  new Gauge({
    name: 'erc_demos_index_rows', help: 'utterances each served index answers with now (built, plus added, less removed)', labelNames: ['index'], registers: [registry],
    collect() {
      for (const name of service.indexes.keys()) this.set({ index: name }, service.writtenSummary(name).rows);
    },
  });
  new Gauge({
    name: 'erc_demos_index_writes', help: 'writes applied to each served index since its build (its write log\'s seq)', labelNames: ['index'], registers: [registry],
    collect() {
      for (const name of service.indexes.keys()) this.set({ index: name }, service.writtenSummary(name).seq);
    },
  });
  new Gauge({
    name: 'erc_demos_index_written_rows', help: 'utterances added, relabelled and removed since each served index\'s build', labelNames: ['index', 'kind'], registers: [registry],
    collect() {
      for (const name of service.indexes.keys()) {
        const written = service.writtenSummary(name);
        for (const kind of ['added', 'relabelled', 'removed'] as const) this.set({ index: name, kind }, written[kind]);
      }
    },
  });
  const info = new Gauge({
    name: 'erc_demos_index_info', help: 'each served index, as labels (value 1)', registers: [registry],
    labelNames: ['index', 'corpus', 'splits', 'embedder', 'projection', 'built_at'],
  });
  const buildSeconds = new Gauge({ name: 'erc_demos_index_build_seconds', help: 'how long each served index took to build', labelNames: ['index'], registers: [registry] });
  for (const [name, index] of service.indexes) {
    const m = index.manifest;
    buildSeconds.set({ index: name }, m.build_seconds);
    info.set({ index: name, corpus: m.corpus, splits: m.splits.join(','), embedder: m.embedder.id, projection: m.projection?.kind ?? 'none', built_at: m.built_at }, 1);
  }
  return {
    registry: Registry.merge([processMetrics(), registry]),
    middleware(req, res, next) {
      const end = duration.startTimer();
      res.once('finish', () => {
        // The matched route pattern (set once a route ran); everything else is one label, so junk URLs cost nothing.
        const labels = { method: req.method, route: (req.route as { path?: string } | undefined)?.path ?? 'unmatched', status: String(res.statusCode) };
        requests.inc(labels);
        end(labels);
        const key = keyNameOf(req) ?? 'anonymous';
        keyRequests.inc({ key });
        if (res.statusCode === 401 || res.statusCode === 403) keyRefusals.inc({ key, status: String(res.statusCode) });
        else if (res.statusCode === 429) keyLimited.inc({ key });
      });
      next();
    },
  };
}
