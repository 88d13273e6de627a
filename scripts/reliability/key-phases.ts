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
  /** With KEYS_PHASE_DEBUG, B's answers under load: request id (sent as x-request-id, to find it in the server's own timings), start (epoch ms), latency. */
  traced: { id: string; at: number; ms: number }[];
  statuses: Map<number, number>;
  retryAfter: string[];
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (x: number) => Math.round(x * 10) / 10;

/** One GET on a keep-alive agent: its status, latency (ms) and Retry-After. */
function get(base: string, path: string, key: string, agent: Agent, id?: string): Promise<{ status: number; ms: number; retryAfter: string | undefined }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { agent, headers: { authorization: `Bearer ${key}`, ...(id ? { 'x-request-id': id } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A client of `connections` kept-alive connections (one key's), kept for the whole phase as a real client keeps its
 * pool. Not one per window: 33 connections opened in the same instant queue in the kernel for the server's accept,
 * which Node 20's libuv (1.45+, libuv#3696) takes one per turn of the event loop; under load a turn is 10-25 ms, so
 * the 33rd waited 130-480 ms before its first byte was read, whatever its key (no key is known before a request is
 * read). That made B's first answer of every loaded window its slowest: the tail measured connection setup, not the
 * sharing of work between keys (docs/RELIABILITY.md).
 */
const client = (connections: number) => new Agent({ keepAlive: true, maxSockets: connections });

/** `connections` closed loops of GETs with `key` on `agent` until `until` (performance.now()); `tag` traces them (KEYS_PHASE_DEBUG). */
async function loops(base: string, key: string, agent: Agent, connections: number, until: number, utterances: readonly string[], offset: number, tag?: string): Promise<Loop> {
  const out = emptyLoop();
  let n = offset;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < until) {
      const utterance = utterances[n++ % utterances.length];
      const id = tag && process.env.KEYS_PHASE_DEBUG ? `${tag}-${n}` : undefined;
      const at = performance.timeOrigin + performance.now();
      const r = await get(base, `/demonstrations?strategy=per-label&k=20&utterance=${encodeURIComponent(utterance)}`, key, agent, id);
      out.statuses.set(r.status, (out.statuses.get(r.status) ?? 0) + 1);
      if (id) out.traced.push({ id, at, ms: r.ms });
      if (r.status === 200) out.latencies.push(r.ms);
      if (r.status === 429 && r.retryAfter !== undefined) out.retryAfter.push(r.retryAfter);
    }
  }));
  out.latencies.sort((a, b) => a - b);
  return out;
}

const count = (loop: Loop, status: number) => loop.statuses.get(status) ?? 0;

/** Alternations of an idle window and a loaded one. */
const ROUNDS = 4;

const emptyLoop = (): Loop => ({ latencies: [], statuses: new Map(), retryAfter: [], traced: [] });

function merge(into: Loop, from: Loop): void {
  into.latencies.push(...from.latencies);
  for (const [status, n] of from.statuses) into.statuses.set(status, (into.statuses.get(status) ?? 0) + n);
  into.retryAfter.push(...from.retryAfter);
  into.traced.push(...from.traced);
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
  const [agentA, agentB, agentC] = [client(32), client(1), client(4)];
  try {
    const base = served.url;
    const ms = seconds * 1000;
    // Warm up (the model, the index pages) before anything is measured; A's and B's connections are opened here and
    // kept (the server's keep-alive timeout, 5 s by default, outlasts a window at the default --seconds).
    const warm = performance.now() + 1500;
    await Promise.all([loops(base, a, agentA, 32, warm, utterances, 5000), loops(base, b, agentB, 1, warm, utterances, 6000)]);
    // Idle and loaded windows alternate (ROUNDS of each, `seconds` in all of each kind), so both meet the same
    // background on a shared machine; their latencies are pooled.
    ctx.log(`keys: ${ROUNDS} rounds of key B alone on 1 connection, then beside key A on 32, ${seconds} s of each in all ...`);
    const idle = emptyLoop();
    const loadA = emptyLoop();
    const loadB = emptyLoop();
    for (let round = 0; round < ROUNDS; round++) {
      merge(idle, await loops(base, b, agentB, 1, performance.now() + ms / ROUNDS, utterances, round * 300));
      const until = performance.now() + ms / ROUNDS;
      const [ra, rb] = await Promise.all([loops(base, a, agentA, 32, until, utterances, 1000 + round * 300), loops(base, b, agentB, 1, until, utterances, 2000 + round * 300, 'B')]);
      merge(loadA, ra);
      merge(loadB, rb);
    }
    for (const loop of [idle, loadA, loadB]) loop.latencies.sort((x, y) => x - y);
    if (process.env.KEYS_PHASE_DEBUG) {
      const slowest = [...loadB.traced].sort((x, y) => y.ms - x.ms).slice(0, 6);
      ctx.log(`keys: slowest B idle ${idle.latencies.slice(-6).map(round).join(' ')}; under load ${slowest.map((t) => `${round(t.ms)} (${t.id} at ${t.at.toFixed(1)})`).join(', ')}`);
    }
    ctx.log(`keys: key C (rate 5/s, burst 5) on 4 connections beside key B on 1, for ${seconds} s ...`);
    const rateUntil = performance.now() + ms;
    const [rateC, rateB] = await Promise.all([loops(base, c, agentC, 4, rateUntil, utterances, 2000), loops(base, b, agentB, 1, rateUntil, utterances, 0)]);
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
    for (const agent of [agentA, agentB, agentC]) agent.destroy();
    served.child.kill('SIGTERM');
    await served.exited;
  }
}
