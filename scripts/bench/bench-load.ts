/**
 * Load generator for scripts/bench/bench.ts and scripts/reliability/reliability.ts, run as its own process: autocannon against
 * GET /demonstrations, cycling through the given utterances (one per request, in order), bounded by request count
 * and duration.
 *   npx tsx scripts/bench/bench-load.ts --url http://127.0.0.1:8080 --utterances file.json --connections 16 --amount 2000 --duration 20 -k 8 [--timeout 10]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    url: { type: 'string' }, utterances: { type: 'string' }, connections: { type: 'string', default: '1' },
    amount: { type: 'string', default: '1000' }, duration: { type: 'string', default: '20' }, k: { type: 'string', default: '8' },
    timeout: { type: 'string', default: '10' },
  },
});
const utterances = JSON.parse(readFileSync(values.utterances!, 'utf8')) as string[];
let next = 0;
// Timed here: autocannon's own duration is in whole seconds, which reads a 7.01 s run as 8 s.
const started = performance.now();
const result = await autocannon({
  url: values.url!,
  connections: Number(values.connections),
  // autocannon ignores the duration when an amount is set: --amount 0 runs for the duration alone.
  ...(Number(values.amount) > 0 ? { amount: Number(values.amount) } : {}),
  duration: Number(values.duration),
  timeout: Number(values.timeout),
  requests: [{
    method: 'GET',
    setupRequest: (req) => ({ ...req, path: `/demonstrations?k=${values.k}&utterance=${encodeURIComponent(utterances[next++ % utterances.length])}` }),
  }],
});
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({
  requests: result.requests.total,
  rps: Number((result.requests.total / seconds).toFixed(1)),
  p50_ms: result.latency.p50,
  p99_ms: result.latency.p99,
  errors: result.errors + result.non2xx + result.timeouts,
  timeouts: result.timeouts,
  non2xx: result.non2xx,
  seconds: Number(seconds.toFixed(3)),
}));
