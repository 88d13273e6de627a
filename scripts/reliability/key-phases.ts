/**
 * Issue 25's load phase (`npm run reliability -- --only keys`): a real `serve` with a keys file, over the run's
 * index. Key B sends heavy GETs (per-label, k=20) on one connection, alone (its idle latency) and while key A sends the
 * same on 32 connections, in alternating windows, both as fast as they can (closed loops: each connection sends its next request
 * when the last is answered). Fairness per key means B's p99 stays near its idle p99 and B completes a real share of
 * the answers (per request, A's 32 connections took 97% and left B 2.7x its idle p99). Then key C, whose keys-file
 * rate is 5/s with a burst of 5, sends as fast as it can on 4 connections beside B: C gets 429s with Retry-After,
 * B none, and B's latency holds.
 */
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { newKey } from '../../src/keys/file.js';
import { startServeProcess } from '../../test/support/serve-process.js';
import type { HostileContext } from './hostile-phases.js';

interface Loop {
  latencies: number[];
  statuses: Map<number, number>;
  retryAfter: string[];
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (x: number) => Math.round(x * 10) / 10;

/** One GET on a keep-alive agent: its status, latency (ms) and Retry-After. */
function get(base: string, path: string, key: string, agent: Agent): Promise<{ status: number; ms: number; retryAfter: string | undefined }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { agent, headers: { authorization: `Bearer ${key}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `connections` closed loops of GETs with `key` until `until` (performance.now()). */
async function loops(base: string, key: string, connections: number, until: number, utterances: readonly string[], offset: number): Promise<Loop> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const out: Loop = { latencies: [], statuses: new Map(), retryAfter: [] };
  let n = offset;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < until) {
      const utterance = utterances[n++ % utterances.length];
      const r = await get(base, `/demonstrations?strategy=per-label&k=20&utterance=${encodeURIComponent(utterance)}`, key, agent);
      out.statuses.set(r.status, (out.statuses.get(r.status) ?? 0) + 1);
      if (r.status === 200) out.latencies.push(r.ms);
      if (r.status === 429 && r.retryAfter !== undefined) out.retryAfter.push(r.retryAfter);
    }
  }));
  agent.destroy();
  out.latencies.sort((a, b) => a - b);
  return out;
}

const count = (loop: Loop, status: number) => loop.statuses.get(status) ?? 0;

/** Alternations of an idle window and a loaded one. */
const ROUNDS = 4;

const emptyLoop = (): Loop => ({ latencies: [], statuses: new Map(), retryAfter: [] });

function merge(into: Loop, from: Loop): void {
  into.latencies.push(...from.latencies);
  for (const [status, n] of from.statuses) into.statuses.set(status, (into.statuses.get(status) ?? 0) + n);
  into.retryAfter.push(...from.retryAfter);
}

export async function keysPhase(ctx: HostileContext, utterances: readonly string[], seconds: number): Promise<Record<string, number>> {
  const a = newKey('load-a', 'read').key;
  const b = newKey('load-b', 'read').key;
  const c = newKey('load-c', 'read').key;
  const file = join(ctx.work, 'load-keys.json');
  writeFileSync(file, JSON.stringify({ keys: [
    { name: 'load-a', scope: 'read', key: a },
    { name: 'load-b', scope: 'read', key: b },
    { name: 'load-c', scope: 'read', key: c, rate: { per_second: 5, burst: 5 } },
  ] }));
  // The query cache off: every request embeds its utterance (the heaviest case; with it, repeats skip the embedder).
  const served = await startServeProcess([ctx.bin, 'serve', '--index', ctx.indexDir, '--port', '0', '--keys', file], { ERC_DEMOS_EMBED_CACHE_MB: '0' });
  try {
    const base = served.url;
    const ms = seconds * 1000;
    // Warm up (the model, the index pages) before anything is measured.
    await loops(base, b, 2, performance.now() + 1500, utterances, 5000);
    // Idle and loaded windows alternate (ROUNDS of each, `seconds` in all of each kind), so both meet the same
    // background on a shared machine; their latencies are pooled.
    ctx.log(`keys: ${ROUNDS} rounds of key B alone on 1 connection, then beside key A on 32, ${seconds} s of each in all ...`);
    const idle = emptyLoop();
    const loadA = emptyLoop();
    const loadB = emptyLoop();
    for (let round = 0; round < ROUNDS; round++) {
      merge(idle, await loops(base, b, 1, performance.now() + ms / ROUNDS, utterances, round * 300));
      const until = performance.now() + ms / ROUNDS;
      const [ra, rb] = await Promise.all([loops(base, a, 32, until, utterances, 1000 + round * 300), loops(base, b, 1, until, utterances, 2000 + round * 300)]);
      merge(loadA, ra);
      merge(loadB, rb);
    }
    for (const loop of [idle, loadA, loadB]) loop.latencies.sort((x, y) => x - y);
    if (process.env.KEYS_PHASE_DEBUG) ctx.log(`keys: slowest B idle ${idle.latencies.slice(-6).map(round).join(' ')}; under load ${loadB.latencies.slice(-6).map(round).join(' ')}`);
    ctx.log(`keys: key C (rate 5/s, burst 5) on 4 connections beside key B on 1, for ${seconds} s ...`);
    const rateUntil = performance.now() + ms;
    const [rateC, rateB] = await Promise.all([loops(base, c, 4, rateUntil, utterances, 2000), loops(base, b, 1, rateUntil, utterances, 0)]);
    const idleP99 = percentile(idle.latencies, 99);
    const retry = rateC.retryAfter.map(Number);
    return {
      keys_idle_b_p50_ms: round(percentile(idle.latencies, 50)),
      keys_idle_b_p95_ms: round(percentile(idle.latencies, 95)),
      keys_idle_b_p99_ms: round(idleP99),
      keys_idle_b_answers: idle.latencies.length,
      keys_load_b_p50_ms: round(percentile(loadB.latencies, 50)),
      keys_load_b_p95_ms: round(percentile(loadB.latencies, 95)),
      keys_load_b_p99_ms: round(percentile(loadB.latencies, 99)),
      keys_load_b_p99_allowed_ms: round(Math.max(2 * idleP99, idleP99 + 80)),
      keys_load_b_p99_over_idle: round((percentile(loadB.latencies, 99) / idleP99) * 100) / 100,
      keys_load_a_p50_ms: round(percentile(loadA.latencies, 50)),
      keys_load_a_answers: loadA.latencies.length,
      keys_load_b_answers: loadB.latencies.length,
      keys_load_b_share: round((loadB.latencies.length / (loadA.latencies.length + loadB.latencies.length)) * 1000) / 1000,
      keys_load_errors: [...loadA.statuses, ...loadB.statuses].filter(([s]) => s !== 200).reduce((n, [, k]) => n + k, 0),
      keys_rate_c_200: count(rateC, 200),
      keys_rate_c_429: count(rateC, 429),
      keys_rate_c_allowed_max: Math.ceil(5 + 5 * (seconds + 0.5)),
      keys_rate_c_retry_after_min_s: retry.length ? Math.min(...retry) : Number.NaN,
      keys_rate_c_retry_after_whole: retry.every((s) => Number.isInteger(s) && s >= 1) && rateC.retryAfter.length === count(rateC, 429) ? 1 : 0,
      keys_rate_b_429: count(rateB, 429),
      keys_rate_b_non_200: [...rateB.statuses].filter(([s]) => s !== 200).reduce((n, [, k]) => n + k, 0),
      keys_rate_b_p99_ms: round(percentile(rateB.latencies, 99)),
    };
  } finally {
    served.child.kill('SIGTERM');
    await served.exited;
  }
}
