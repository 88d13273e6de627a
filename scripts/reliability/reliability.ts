/**
 * Reliability suite (npm run reliability -- [--json] [--data ../shared/data/meld] [--index <dir>] [--seed 1]
 * [--fuzz 2400] [--seconds 8] [--max-batches 8] [--only phase,...]): starts `erc-demos serve` on loopback over a MELD train index (or the sample corpus
 * when MELD is absent) and tries it as a shared service and a hostile client would, bounded in count and time:
 *   fuzz      seeded hostile requests (scripts/reliability/reliability-fuzz.ts): no 5xx, every 4xx a JSON error naming its param
 *   load      GETs at concurrency 16, 64 and 256
 *   mixed     concurrency-16 GETs alone, then while the largest allowed batches run back to back
 *   batches   8 of the largest valid batches at once (1000 queries x 199 characters, per-label k=1): all answered whole
 *   perlabel  concurrency-16 GETs while 8 clients send per-label k=100 batches back to back
 *   amplify   the crafted requests of issue 9 (repeated labels, templates repeating the history, huge per-label batches)
 *   slow      idle sockets, trickled headers, a trickled body
 *   early 413 Expect: 100-continue with a Content-Length over the body limit: a 413 at once, no "100 Continue"
 *   shutdown  SIGTERM under load, and with an idle socket, then a half-sent request, open
 *   kill -9   during a build over an existing index
 *   corrupt   one flipped byte at seeded positions of every index file, the manifest and its checksum included
 *   modelswap an index built with a sentence-transformers folder whose onnx/model.onnx is then replaced by another
 *             graph of the same dimension: serve must refuse it, naming the file (model_swap_refused)
 *   outguard, reloads, flood, sighupstart: issue 23's hostile round (scripts/reliability/hostile-phases.ts)
 *   keys      issue 25: key A on 32 connections beside key B on 1 (per-label k=20 GETs): B's p99 and share; a key over
 *             its rate gets 429s with Retry-After, another none (scripts/reliability/key-phases.ts)
 * Prints a table (or one JSON object with --json) and the targets of docs/RELIABILITY.md; exits 1 if one is missed.
 * `--only batches,perlabel` runs only the phases named (fuzz, load, mixed, batches, perlabel, amplify, slow,
 * early413, shutdown, kill9, corrupt, modelswap, foreignout, outguard, reloads, flood, sighupstart, keys) and checks only the targets whose keys they produced.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCorpus } from '../../src/corpus/load.js';
import { DemoIndex } from '../../src/index/open.js';
import { SAMPLE_CORPUS } from '../../src/paths.js';
import { DEFAULT_SETTINGS } from '../../src/settings.js';
import { runLoad, writeUtterances } from '../bench/load-client.js';
import { fuzzRequests, type FuzzRequest } from './reliability-fuzz.js';
import { startServeProcess, type ServeProcess } from '../../test/support/serve-process.js';
import { floodPhase, outGuardPhase, reloadsPhase, sighupAtStartPhase, type HostileContext } from './hostile-phases.js';
import { keysPhase } from './key-phases.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false }, data: { type: 'string', default: '../shared/data/meld' }, index: { type: 'string' },
    seed: { type: 'string', default: '1' }, fuzz: { type: 'string', default: '2400' }, seconds: { type: 'string', default: '8' },
    'max-batches': { type: 'string', default: '8' }, only: { type: 'string' },
  },
});
const PHASES = ['fuzz', 'load', 'mixed', 'batches', 'perlabel', 'amplify', 'slow', 'early413', 'shutdown', 'kill9', 'corrupt', 'modelswap', 'foreignout',
  'outguard', 'reloads', 'flood', 'sighupstart', 'keys'] as const;
const only = values.only?.split(',').map((p) => p.trim()).filter(Boolean);
for (const p of only ?? []) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`--only: unknown phase "${p}" (phases: ${PHASES.join(', ')})`);
/** Whether this run includes the phase (all of them unless --only names some). */
const runs = (phase: (typeof PHASES)[number]) => !only || only.includes(phase);
const seed = Number(values.seed);
const seconds = Number(values.seconds);
const log = (s: string) => process.stderr.write(`[reliability] ${s}\n`);
const work = mkdtempSync(join(tmpdir(), 'erc-reliability-'));
const BIN = resolve('bin/erc-demos.mjs');
const haveMeld = existsSync(join(values.data!, 'train_sent_emo.csv'));
/** Shorter HTTP timeouts than the defaults, so the slow-client checks finish in seconds; everything else default. */
const SERVE_ENV = { ERC_DEMOS_HEADERS_TIMEOUT_MS: '2000', ERC_DEMOS_REQUEST_TIMEOUT_MS: '4000' };
const results: Record<string, number> = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A deterministic generator for positions and picks (mulberry32). */
function rng(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function runNode(args: string[], timeoutMs = 600_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

interface Answer { status: number; body: string; ms: number; error?: string; /** ms to the status line and headers */ headersMs?: number }

/** One request over a fresh connection; network errors come back as status 0 with the error code. */
function send(base: string, req: FuzzRequest, timeoutMs = 30_000): Promise<Answer> {
  const started = performance.now();
  return new Promise((done) => {
    const url = new URL(base);
    const r = httpRequest({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers: { ...req.headers, connection: 'close' }, timeout: timeoutMs }, (res) => {
      const headersMs = performance.now() - started;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started, headersMs }));
      res.on('error', (e: NodeJS.ErrnoException) => done({ status: 0, body: '', ms: performance.now() - started, error: e.code ?? e.message }));
    });
    r.on('timeout', () => r.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    r.on('error', (e: NodeJS.ErrnoException) => done({ status: 0, body: '', ms: performance.now() - started, error: e.code ?? e.message }));
    r.end(req.body);
  });
}

const post = (base: string, path: string, body: unknown, timeoutMs?: number) =>
  send(base, { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) }, timeoutMs);

/** A 4xx answer is acceptable when it is JSON {error: {param, message}} with a message. */
function isNamedError(a: Answer): boolean {
  try {
    const body = JSON.parse(a.body) as { error?: { param?: unknown; message?: unknown } };
    return typeof body.error?.message === 'string' && 'param' in body.error;
  } catch {
    return false;
  }
}

let crashes = 0;
/** The service under test; restarted (and counted as a crash) if it is found dead between phases. */
let serve: ServeProcess;
async function startService(indexDir: string): Promise<ServeProcess> {
  return startServeProcess([BIN, 'serve', '--index', indexDir, '--port', '0'], SERVE_ENV);
}
async function checkAlive(indexDir: string, phase: string): Promise<void> {
  if (serve.child.exitCode === null && serve.child.signalCode === null) return;
  crashes += 1;
  log(`CRASH during ${phase}: ${serve.stderr().slice(-2000)}`);
  serve = await startService(indexDir);
}

async function buildIndex(): Promise<string> {
  if (values.index) return resolve(values.index);
  const out = join(work, 'index');
  const args = haveMeld
    ? ['build', '--corpus', 'meld', '--data', values.data!, '--split', 'train', '--out', out]
    : ['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--split', 'train', '--out', out];
  log(`building the index (${haveMeld ? 'MELD train' : 'the sample corpus: MELD not found'}) ...`);
  const r = await runNode([BIN, ...args]);
  if (r.code !== 0) throw new Error(`build failed: ${r.stderr}`);
  return out;
}

function utterancesFile(): string {
  return writeUtterances(work, haveMeld
    ? loadCorpus({ format: 'meld', data: values.data!, splits: ['test'] }).dialogues
    : loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' }).dialogues);
}

const load = (url: string, utterances: string, connections: number, seconds: number) => runLoad(url, utterances, { connections, seconds });

async function fuzzPhase(base: string, indexDir: string): Promise<void> {
  const requests = fuzzRequests(Number(values.fuzz), seed);
  log(`fuzz: ${requests.length} seeded requests (seed ${seed}), 8 at a time ...`);
  let fivexx = 0;
  let unnamed = 0;
  let network = 0;
  const examples: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < requests.length) {
      const req = requests[next++];
      const a = await send(base, req);
      if (a.status >= 500) {
        fivexx += 1;
        if (examples.length < 5) examples.push(`${a.status} ${req.method} ${req.path.slice(0, 200)}: ${a.body.slice(0, 200)}`);
      } else if (a.status >= 400 && !isNamedError(a)) {
        unnamed += 1;
        if (examples.length < 5) examples.push(`unnamed ${a.status} ${req.method} ${req.path.slice(0, 200)}: ${a.body.slice(0, 200)}`);
      } else if (a.status === 0) {
        network += 1;
      }
    }
  }));
  for (const e of examples) log(`  ${e}`);
  Object.assign(results, { fuzz_requests: requests.length, fuzz_5xx: fivexx, fuzz_4xx_without_named_error: unnamed, fuzz_network_errors: network });
  await checkAlive(indexDir, 'fuzz');
}

async function loadPhase(utterances: string, indexDir: string): Promise<void> {
  for (const c of [16, 64, 256]) {
    log(`load: concurrency ${c} for ${seconds} s ...`);
    const r = await load(serve.url, utterances, c, seconds);
    Object.assign(results, { [`c${c}_p50_ms`]: r.p50_ms, [`c${c}_p99_ms`]: r.p99_ms, [`c${c}_rps`]: r.rps, [`c${c}_errors`]: r.errors });
    await checkAlive(indexDir, `load c${c}`);
  }
}

/** The largest batches the default limits allow, by characters and by demonstrations, alternately. */
function largestBatches(): unknown[] {
  const limits = DEFAULT_SETTINGS;
  const long = Math.floor(limits.maxRequestChars / 2000); // 2000-character queries, the longest allowed
  const many = limits.maxBatchQueries;
  const text = (i: number, n: number) => `${i} ${'and then we talked about it for hours on end '.repeat(Math.ceil(n / 40))}`.slice(0, n);
  return [
    { queries: Array.from({ length: long }, (_, i) => ({ utterance: text(i, 2000), k: Math.floor(limits.maxDemonstrations / long) })) },
    { queries: Array.from({ length: many }, (_, i) => ({ utterance: text(i, Math.floor(limits.maxRequestChars / many)), k: Math.floor(limits.maxDemonstrations / many) })) },
  ];
}

async function mixedPhase(utterances: string, indexDir: string): Promise<void> {
  log(`mixed: concurrency-16 GETs for ${seconds} s alone ...`);
  const idle = await load(serve.url, utterances, 16, seconds);
  log(`mixed: the same while the largest allowed batches run back to back ...`);
  const batches = largestBatches();
  let stop = false;
  let batchCount = 0;
  let batchFailures = 0;
  const batchMs: number[] = [];
  const batchLoop = (async () => {
    for (let i = 0; !stop; i++) {
      const a = await post(serve.url, '/demonstrations', batches[i % batches.length], 120_000);
      if (a.status !== 200) batchFailures += 1;
      batchMs.push(a.ms);
      batchCount += 1;
    }
  })();
  await sleep(300); // the first batch is in the embedder before the GETs start
  const mixed = await load(serve.url, utterances, 16, seconds);
  stop = true;
  await batchLoop;
  Object.assign(results, {
    idle_get_p50_ms: idle.p50_ms, idle_get_p99_ms: idle.p99_ms, idle_get_rps: idle.rps,
    mixed_get_p50_ms: mixed.p50_ms, mixed_get_p99_ms: mixed.p99_ms, mixed_get_rps: mixed.rps, mixed_get_timeouts: mixed.timeouts,
    mixed_get_errors: mixed.errors, mixed_batches: batchCount, mixed_batch_failures: batchFailures,
    mixed_batch_median_ms: Math.round([...batchMs].sort((a, b) => a - b)[Math.floor(batchMs.length / 2)] ?? 0),
  });
  await checkAlive(indexDir, 'mixed');
}

/**
 * Issue 17: the largest valid batches by queries and characters, several at once (1000 queries x 199 characters,
 * per-label k=1: minutes of work together on 2 cores): every one must be answered whole, under the default timeouts.
 */
async function concurrentBatchesPhase(indexDir: string): Promise<void> {
  const n = Number(values['max-batches']);
  const { maxBatchQueries, maxRequestChars } = DEFAULT_SETTINGS;
  const chars = Math.floor(maxRequestChars / maxBatchQueries) - 1;
  const text = (b: number, i: number) => `${b}.${i} ${'so we sat there and talked about it for hours on end '.repeat(Math.ceil(chars / 50))}`.slice(0, chars);
  const batch = (b: number) => ({ queries: Array.from({ length: maxBatchQueries }, (_, i) => ({ utterance: text(b, i), strategy: 'per-label', k: 1 })) });
  log(`batches: ${n} batches of ${maxBatchQueries} queries x ${chars} characters, per-label k=1, at once ...`);
  const started = performance.now();
  const answers = await Promise.all(Array.from({ length: n }, (_, b) => post(serve.url, '/demonstrations', batch(b), 600_000)));
  const complete = answers.filter((a) => {
    try {
      return a.status === 200 && (JSON.parse(a.body) as { results: unknown[] }).results.length === maxBatchQueries;
    } catch {
      return false;
    }
  });
  for (const a of answers) if (!complete.includes(a)) log(`  not answered whole: ${a.status} ${a.error ?? ''} after ${(a.ms / 1000).toFixed(1)} s`);
  Object.assign(results, {
    concurrent_max_batches: n, concurrent_max_batches_completed: complete.length,
    concurrent_max_batches_s: Number(((performance.now() - started) / 1000).toFixed(1)),
    concurrent_max_batches_headers_ms_max: Math.round(Math.max(...answers.map((a) => a.headersMs ?? Number.POSITIVE_INFINITY))),
  });
  await checkAlive(indexDir, 'batches');
}

/**
 * Issue 17: concurrency-16 GETs while 8 clients send per-label k=100 batches back to back (as many queries as the
 * demonstration limit allows: 14 over MELD's 7 labels), whose search and selection share the main thread.
 */
async function perLabelMixedPhase(utterances: string, indexDir: string): Promise<void> {
  if (results.idle_get_p99_ms === undefined) {
    log(`perlabel: concurrency-16 GETs for ${seconds} s alone ...`);
    const idle = await load(serve.url, utterances, 16, seconds);
    Object.assign(results, { idle_get_p50_ms: idle.p50_ms, idle_get_p99_ms: idle.p99_ms, idle_get_rps: idle.rps });
  }
  const labels = (JSON.parse(readFileSync(join(indexDir, 'manifest.json'), 'utf8')) as { labels: string[] }).labels.length;
  const perBatch = Math.max(1, Math.floor(DEFAULT_SETTINGS.maxDemonstrations / (100 * labels)));
  const texts = JSON.parse(readFileSync(utterances, 'utf8')) as string[];
  log(`perlabel: the same while 8 clients send batches of ${perBatch} per-label k=100 queries back to back ...`);
  let stop = false;
  let batches = 0;
  let failures = 0;
  let next = 0;
  const clients = Array.from({ length: 8 }, async () => {
    while (!stop) {
      const queries = Array.from({ length: perBatch }, () => ({ utterance: texts[next++ % texts.length], strategy: 'per-label', k: 100 }));
      const a = await post(serve.url, '/demonstrations', { queries }, 120_000);
      if (a.status !== 200) failures += 1;
      batches += 1;
    }
  });
  await sleep(300);
  const mixed = await load(serve.url, utterances, 16, seconds);
  stop = true;
  await Promise.all(clients);
  Object.assign(results, {
    perlabel_mixed_get_p50_ms: mixed.p50_ms, perlabel_mixed_get_p99_ms: mixed.p99_ms, perlabel_mixed_get_rps: mixed.rps,
    perlabel_mixed_get_timeouts: mixed.timeouts, perlabel_mixed_get_errors: mixed.errors,
    perlabel_mixed_batches: batches, perlabel_mixed_batch_failures: failures,
  });
  await checkAlive(indexDir, 'perlabel');
}

/** The crafted requests of issue 9 (items 1-3): each must be answered (a 400, or a bounded 200) within a second. */
async function amplificationPhase(indexDir: string): Promise<void> {
  log('amplification: crafted requests ...');
  const base = serve.url;
  const turns = (n: number) => Array.from({ length: n }, (_, i) => ({ speaker: `S${i % 3}`, text: `${i} ${'x'.repeat(1990)}` }));
  const history = (repeats: number) => ({ name: 'amp', template: `${'{history}'.repeat(repeats)} {demonstrations}`, window: 1000 });
  const crafted: [string, () => Promise<Answer>][] = [
    ['GET per-label k=100, 2500 repeated labels', () => send(base, { method: 'GET', path: `/demonstrations?utterance=hello&strategy=per-label&k=100&labels=${Array(2500).fill('anger').join(',')}`, headers: {} })],
    ['POST per-label k=100, 20000 repeated labels', () => post(base, '/demonstrations', { queries: [{ utterance: 'hello', strategy: 'per-label', k: 100, labels: Array(20_000).fill('anger') }] })],
    ['POST 1000 queries per-label k=100 dedup', () => post(base, '/demonstrations', { queries: Array.from({ length: 1000 }, (_, i) => ({ utterance: `hello ${i}`, strategy: 'per-label', k: 100, dedup: true })) })],
    ['POST 1000 queries x 2000 characters', () => post(base, '/demonstrations', { queries: Array.from({ length: 1000 }, (_, i) => ({ utterance: `${i} ${'y'.repeat(1995)}` })) })],
    ['POST /prompts {history} x450, window 1000, 500 turns x 2000', () => post(base, '/prompts', { format: history(450), dialogue: { turns: turns(500) }, target: 499, options: { window: 1000 } })],
    ['POST /prompts {history} x600, window 1000, 500 turns x 2000', () => post(base, '/prompts', { format: history(600), dialogue: { turns: turns(500) }, target: 499, options: { window: 1000 } })],
    ['POST /prompts {history} x450, window 1000, 90 turns x 2000', () => post(base, '/prompts', { format: history(450), dialogue: { turns: turns(90) }, target: 89, options: { window: 1000 } })],
    ['POST /prompts turn template {text} x90, 90 turns', () => post(base, '/prompts', { format: { name: 'amp', template: '{history}', turn: '{text}'.repeat(90), window: 1000 }, dialogue: { turns: turns(90) }, target: 89 })],
    ['largest valid GET: per-label k=100 dedup, every label', () => send(base, { method: 'GET', path: '/demonstrations?utterance=hello%20there&strategy=per-label&k=100&dedup=true', headers: {} })],
    ['largest valid prompt: 60 turns x 2000, window 1000, per-label k=100', () => post(base, '/prompts', { format: 'instructerc', dialogue: { turns: turns(60) }, target: 59, options: { window: 1000, strategy: 'per-label', k: 100 } })],
  ];
  let max = 0;
  let fivexx = 0;
  for (const [name, run] of crafted) {
    const a = await run();
    max = Math.max(max, a.ms);
    if (a.status >= 500 || a.status === 0) fivexx += 1;
    let param = '';
    try {
      param = (JSON.parse(a.body) as { error?: { param?: string } }).error?.param ?? '';
    } catch { /* not JSON: counted below */ }
    log(`  ${a.status} ${param ? `(${param}) ` : ''}${a.ms.toFixed(0)} ms  ${name}`);
  }
  Object.assign(results, { amplification_max_ms: Math.round(max), amplification_5xx: fivexx });
  await checkAlive(indexDir, 'amplification');
}

/** Opens a socket; resolves once connected. */
function openSocket(port: number): Promise<Socket> {
  return new Promise((done, reject) => {
    const s = connect(port, '127.0.0.1', () => done(s));
    s.on('error', reject);
  });
}

/** Writes `text` a byte at a time every `everyMs`; resolves with what the server answered and when it closed. */
function trickle(port: number, text: string, everyMs: number): Promise<{ answer: string; seconds: number }> {
  return new Promise((done) => {
    const started = performance.now();
    const s = connect(port, '127.0.0.1');
    let answer = '';
    let at = 0;
    const timer = setInterval(() => {
      if (at < text.length && !s.destroyed) s.write(text[at++]);
    }, everyMs);
    s.on('data', (c: Buffer) => (answer += c.toString()));
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(timer);
      done({ answer, seconds: (performance.now() - started) / 1000 });
    });
  });
}

async function slowPhase(utterances: string, indexDir: string): Promise<void> {
  log('slow clients: 200 idle sockets, trickled headers, a trickled body ...');
  const port = Number(new URL(serve.url).port);
  const idle = await Promise.all(Array.from({ length: 200 }, () => openSocket(port)));
  const closed = idle.map((s) => new Promise<number>((r) => s.once('close', () => r(performance.now()))));
  const opened = performance.now();
  const during = await load(serve.url, utterances, 16, 3);
  const headers = trickle(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200) + '\r\n\r\n', 300);
  const body = JSON.stringify({ queries: [{ utterance: 'hello' }] });
  const slowBody = trickle(port, `POST /demonstrations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 300);
  const [h, b] = await Promise.all([headers, slowBody]);
  const closedAt = await Promise.race([Promise.all(closed), sleep(15_000).then(() => undefined)]);
  Object.assign(results, {
    slow_idle_sockets_closed_s: closedAt ? Number(((Math.max(...closedAt) - opened) / 1000).toFixed(1)) : -1,
    slow_get_p99_ms_with_idle_sockets: during.p99_ms,
    slow_get_errors_with_idle_sockets: during.errors,
    slow_headers_answer: Number(h.answer.match(/^HTTP\/1\.1 (\d+)/)?.[1] ?? 0),
    slow_headers_closed_s: Number(h.seconds.toFixed(1)),
    slow_body_answer: Number(b.answer.match(/^HTTP\/1\.1 (\d+)/)?.[1] ?? 0),
    slow_body_closed_s: Number(b.seconds.toFixed(1)),
  });
  for (const s of idle) s.destroy();
  await checkAlive(indexDir, 'slow clients');
}

/**
 * Issue 17: headers announcing a body over the limit with `Expect: 100-continue`. The time from sending them to the
 * whole JSON 413 (early_413_ms), its status, and whether "100 Continue" came first (it must not: the client would
 * upload it all).
 */
async function early413Phase(indexDir: string): Promise<void> {
  log('early 413: Expect: 100-continue with a Content-Length 1 MB over the body limit ...');
  const port = Number(new URL(serve.url).port);
  const { answer, ms } = await new Promise<{ answer: string; ms: number }>((done) => {
    let answer = '';
    let started = 0;
    const s = connect(port, '127.0.0.1', () => {
      started = performance.now();
      s.write(`POST /demonstrations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${DEFAULT_SETTINGS.maxBodyBytes + 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n`);
    });
    const timer = setTimeout(() => s.destroy(), 40_000);
    s.on('data', (c: Buffer) => (answer += c.toString()));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      done({ answer, ms: performance.now() - started });
    });
  });
  const status = [...answer.matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((m) => Number(m[1])).find((code) => code !== 100) ?? 0;
  Object.assign(results, { early_413_ms: Number(ms.toFixed(1)), early_413_status: status, early_413_sent_100_continue: answer.includes('100 Continue') ? 1 : 0 });
  log(`  ${status} after ${ms.toFixed(1)} ms${answer.includes('100 Continue') ? ' (after "100 Continue")' : ''}`);
  await checkAlive(indexDir, 'early 413');
}

async function shutdownPhase(indexDir: string, utterances: string): Promise<void> {
  log('shutdown: SIGTERM under concurrency-16 load ...');
  const underLoad = await startService(indexDir);
  let ok = 0;
  let refused = 0;
  let failed = 0;
  const failures = new Map<string, number>();
  let stop = false;
  const texts = JSON.parse(readFileSync(utterances, 'utf8')) as string[];
  const clients = Array.from({ length: 16 }, async (_, c) => {
    for (let i = c; !stop; i += 16) {
      const a = await send(underLoad.url, { method: 'GET', path: `/demonstrations?k=8&utterance=${encodeURIComponent(texts[i % texts.length])}`, headers: {} }, 10_000);
      if (a.status === 200) ok += 1;
      else if (a.error === 'ECONNREFUSED') {
        refused += 1; // after the listener closed: what a load balancer sees, and routes elsewhere
        await sleep(20);
      } else {
        failed += 1;
        const why = a.error ?? String(a.status);
        failures.set(why, (failures.get(why) ?? 0) + 1);
      }
    }
  });
  await sleep(2000);
  const signalled = performance.now();
  underLoad.child.kill('SIGTERM');
  const exit = await underLoad.exited;
  const loadExitS = (performance.now() - signalled) / 1000;
  await sleep(300);
  stop = true;
  await Promise.all(clients);
  // Resets come from connections still in the kernel's accept backlog when the listener closes (about one per
  // waiting client): the service never read them, and a load balancer retries them (proxy_next_upstream error).
  if (failed) log(`  failed requests by cause: ${[...failures].map(([why, n]) => `${why} ${n}`).join(', ')}`);

  log('shutdown: SIGTERM with an idle socket open, then with a half-sent request open ...');
  const timed = async (holdHalfRequest: boolean): Promise<number> => {
    const s = await startService(indexDir);
    const port = Number(new URL(s.url).port);
    const socket = await openSocket(port);
    socket.on('error', () => {});
    if (holdHalfRequest) socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    await sleep(200);
    const t = performance.now();
    s.child.kill('SIGTERM');
    await s.exited;
    socket.destroy();
    return Number(((performance.now() - t) / 1000).toFixed(2));
  };
  Object.assign(results, {
    sigterm_load_ok: ok, sigterm_load_refused_after_close: refused, sigterm_load_reset: failures.get('ECONNRESET') ?? 0,
    sigterm_load_failed_otherwise: failed - (failures.get('ECONNRESET') ?? 0),
    sigterm_load_exit_s: Number(loadExitS.toFixed(2)), sigterm_load_exit_code: exit.code ?? -1,
    shutdown_s: await timed(false),
    shutdown_held_s: await timed(true),
  });
}

async function killDuringBuildPhase(indexDir: string): Promise<void> {
  log('kill -9 during a build over an existing index ...');
  const out = join(work, 'killed');
  cpSync(indexDir, out, { recursive: true });
  const before = readFileSync(join(out, 'manifest.json'), 'utf8');
  const args = haveMeld
    ? ['build', '--corpus', 'meld', '--data', values.data!, '--split', 'train', '--out', out]
    : ['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--split', 'train', '--out', out];
  const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
  await sleep(haveMeld ? 4000 : 1200);
  const killedMidBuild = child.exitCode === null;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  let intact = 0;
  try {
    const index = await DemoIndex.open(out);
    intact = readFileSync(join(out, 'manifest.json'), 'utf8') === before && index.manifest.count > 0 ? 1 : 0;
  } catch (error) {
    log(`  the index did not open after kill -9: ${(error as Error).message}`);
  }
  const leftovers = readdirSync(work).filter((f) => f.startsWith('killed.tmp-')).length;
  Object.assign(results, { kill9_mid_build: killedMidBuild ? 1 : 0, kill9_index_intact: intact, kill9_tmp_left: leftovers });
}

async function corruptionPhase(indexDir: string): Promise<void> {
  const files = readdirSync(indexDir).filter((f) => statSync(join(indexDir, f)).isFile());
  const random = rng(seed);
  const positions = 3;
  log(`corruption: one flipped byte at ${positions} seeded positions of each of ${files.join(', ')} ...`);
  let tried = 0;
  let refused = 0;
  const copy = join(work, 'corrupt');
  for (const file of files) {
    const original = readFileSync(join(indexDir, file));
    for (let p = 0; p < positions; p++) {
      rmSync(copy, { recursive: true, force: true });
      cpSync(indexDir, copy, { recursive: true });
      const bytes = Buffer.from(original);
      const at = p === 0 ? 0 : p === 1 ? bytes.length - 1 : Math.floor(random() * bytes.length);
      bytes[at] ^= 1 << Math.floor(random() * 8);
      writeFileSync(join(copy, file), bytes);
      tried += 1;
      try {
        await DemoIndex.open(copy);
        log(`  NOT refused: ${file} byte ${at}`);
      } catch {
        refused += 1;
      }
    }
  }
  rmSync(copy, { recursive: true, force: true });
  Object.assign(results, { corruptions_tried: tried, corruptions_refused: refused });
}

/**
 * Issue 17 item 3: an index built with a model folder (a test fixture made by sentence-transformers, copied), whose
 * graph is then replaced by another fixture's of the same dimension. Before the swap the index serves (an exact
 * match scores 1.0); after it, `serve` must exit with an error naming onnx/model.onnx, not serve other vectors.
 */
async function modelSwapPhase(): Promise<void> {
  log('model swap: onnx/model.onnx replaced under a built index ...');
  const fixtures = resolve('test/fixtures/st');
  const model = join(work, 'swap-model');
  const out = join(work, 'swap-index');
  cpSync(join(fixtures, 'cls-normalize'), model, { recursive: true });
  const built = await runNode([BIN, 'build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--projection', 'none',
    '--embedder', `transformers:${model}`, '--out', out]);
  if (built.code !== 0) throw new Error(`model swap: build failed: ${built.stderr}`);
  const utterance = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' }).dialogues[0].turns[0].text;
  const before = await runNode([BIN, 'query', '--index', out, '-k', '1', utterance], 120_000);
  const servedBefore = before.code === 0 && before.stdout.includes(utterance);
  cpSync(join(fixtures, 'lasttoken', 'onnx', 'model.onnx'), join(model, 'onnx', 'model.onnx'));
  const started = performance.now();
  const after = await runNode([BIN, 'serve', '--index', out, '--port', '0'], 60_000);
  const refused = after.code !== 0 && after.code !== null && /onnx\/model\.onnx changed/.test(after.stderr) && after.stderr.includes('erc-demos build');
  if (!refused) log(`  NOT refused (exit ${after.code}): ${after.stderr.slice(-500)}`);
  Object.assign(results, { model_swap_served_before: servedBefore ? 1 : 0, model_swap_refused: servedBefore && refused, model_swap_refusal_s: Number(((performance.now() - started) / 1000).toFixed(2)) });
}

/**
 * Issue 17 item 1: `build --out` naming a folder that is not an index (a user's notes) must be refused, exit non-zero,
 * and leave the folder and its file as they were.
 */
async function foreignOutPhase(): Promise<void> {
  log('foreign --out: a build into a folder holding a user file ...');
  const folder = join(work, 'my-notes');
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder);
  writeFileSync(join(folder, 'notes.txt'), 'x');
  const run = await runNode([BIN, 'build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--projection', 'none', '--out', folder]);
  const intact = readdirSync(folder).join(',') === 'notes.txt' && readFileSync(join(folder, 'notes.txt'), 'utf8') === 'x';
  const refused = run.code !== 0 && run.code !== null && /refusing to write --out/.test(run.stderr) && intact;
  if (!refused) log(`  NOT refused (exit ${run.code}, folder ${intact ? 'intact' : 'changed'}): ${run.stderr.slice(-300)}`);
  Object.assign(results, { foreign_out_refused: refused });
}

/** The targets of issue 9 and docs/RELIABILITY.md. */
function targets(r: Record<string, number>): [string, boolean][] {
  return [
    ['fuzz_5xx = 0', r.fuzz_5xx === 0],
    ['fuzz_4xx_without_named_error = 0', r.fuzz_4xx_without_named_error === 0],
    ['crashes = 0', r.crashes === 0],
    ['mixed_get_timeouts = 0', r.mixed_get_timeouts === 0],
    ['mixed_get_p99_ms <= 4 x idle_get_p99_ms', r.mixed_get_p99_ms <= 4 * r.idle_get_p99_ms],
    ['concurrent_max_batches_completed = concurrent_max_batches', r.concurrent_max_batches_completed === r.concurrent_max_batches],
    ['perlabel_mixed_get_p99_ms <= 4 x idle_get_p99_ms', r.perlabel_mixed_get_p99_ms <= 4 * r.idle_get_p99_ms],
    ['amplification_max_ms <= 1000', r.amplification_max_ms <= 1000],
    ['shutdown_s <= 12', r.shutdown_s <= 12],
    ['sigterm_load_exit_code = 0 (no crash on the way out)', r.sigterm_load_exit_code === 0],
    ['shutdown_held_s <= 12', r.shutdown_held_s <= 12],
    ['corruptions_refused = corruptions_tried', r.corruptions_refused === r.corruptions_tried],
    ['kill9_index_intact = 1', r.kill9_index_intact === 1],
    ['early_413_ms <= 1000, a 413 without "100 Continue"', r.early_413_ms <= 1000 && r.early_413_status === 413 && r.early_413_sent_100_continue === 0],
    ['model_swap_refused = true', (r as Record<string, unknown>).model_swap_refused === true],
    ['foreign_out_refused = true', (r as Record<string, unknown>).foreign_out_refused === true],
    ['out_device_refused = true, and the links and the own-input export', ['out_device_refused', 'out_link_to_dev_null_refused', 'out_link_to_file_written_and_kept', 'out_own_input_refused'].every((k) => (r as Record<string, unknown>)[k] === true)],
    ['reload_threads_after_last = reload_threads_after_first', r.reload_threads_after_last === r.reload_threads_after_first],
    ['reload_rss_growth_mb <= 100', r.reload_rss_growth_mb <= 100],
    ['flood_other_answered_share >= 0.9', r.flood_other_answered_share >= 0.9],
    ['sighup_at_start_survived = true', (r as Record<string, unknown>).sighup_at_start_survived === true],
    ['keys_load_b_p99_ms <= max(2 x keys_idle_b_p99_ms, keys_idle_b_p99_ms + 80)', r.keys_load_b_p99_ms <= Math.max(2 * r.keys_idle_b_p99_ms, r.keys_idle_b_p99_ms + 80)],
    ['keys_load_errors = 0', r.keys_load_errors === 0],
    ['keys_rate_c_429 > 0, each with Retry-After in whole seconds >= 1', r.keys_rate_c_429 > 0 && r.keys_rate_c_retry_after_whole === 1],
    ['keys_rate_c_200 <= keys_rate_c_allowed_max (burst + rate x seconds)', r.keys_rate_c_200 <= r.keys_rate_c_allowed_max],
    ['keys_rate_b_non_200 = 0 (another key unaffected)', r.keys_rate_b_non_200 === 0],
  ];
}

try {
  const started = performance.now();
  const indexDir = await buildIndex();
  const utterances = utterancesFile();
  serve = await startService(indexDir);
  log(`service at ${serve.url}`);
  if (runs('fuzz')) await fuzzPhase(serve.url, indexDir);
  if (runs('load')) await loadPhase(utterances, indexDir);
  if (runs('mixed')) await mixedPhase(utterances, indexDir);
  if (runs('batches')) await concurrentBatchesPhase(indexDir);
  if (runs('perlabel')) await perLabelMixedPhase(utterances, indexDir);
  if (runs('amplify')) await amplificationPhase(indexDir);
  if (runs('slow')) await slowPhase(utterances, indexDir);
  if (runs('early413')) await early413Phase(indexDir);
  await checkAlive(indexDir, 'the end');
  serve.child.kill('SIGTERM');
  await serve.exited;
  results.crashes = crashes;
  if (runs('shutdown')) await shutdownPhase(indexDir, utterances);
  if (runs('kill9')) await killDuringBuildPhase(indexDir);
  if (runs('corrupt')) await corruptionPhase(indexDir);
  if (runs('modelswap')) await modelSwapPhase();
  if (runs('foreignout')) await foreignOutPhase();
  const hostile: HostileContext = {
    bin: BIN, work, indexDir, startService, runNode, log,
    corpusArgs: haveMeld ? ['--corpus', 'meld', '--data', values.data!] : ['--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample'],
    split: haveMeld ? 'dev' : 'train',
    splitFile: haveMeld ? join(values.data!, 'dev_sent_emo.csv') : SAMPLE_CORPUS,
  };
  if (runs('outguard')) Object.assign(results, await outGuardPhase(hostile));
  if (runs('reloads')) Object.assign(results, await reloadsPhase(hostile));
  if (runs('flood')) Object.assign(results, await floodPhase(hostile, JSON.parse(readFileSync(utterances, 'utf8')) as string[]));
  if (runs('sighupstart')) Object.assign(results, await sighupAtStartPhase(hostile));
  if (runs('keys')) Object.assign(results, await keysPhase(hostile, JSON.parse(readFileSync(utterances, 'utf8')) as string[], seconds));
  results.suite_seconds = Math.round((performance.now() - started) / 1000);
  const summary = { machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`, corpus: haveMeld ? 'MELD train' : 'sample', seed, ...results };
  // With --only, the targets whose first key the phases run did not produce are not checked.
  const checks = targets(results).filter(([name]) => !only || name.split(' ')[0] in results);
  if (values.json) {
    console.log(JSON.stringify({ ...summary, targets_met: checks.every(([, ok]) => ok) }));
  } else {
    console.log(`| key | value |\n|---|---|\n${Object.entries(summary).map(([k, v]) => `| ${k} | ${v} |`).join('\n')}`);
    console.log(`\n${checks.map(([name, ok]) => `${ok ? 'met   ' : 'MISSED'}  ${name}`).join('\n')}`);
  }
  process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
} finally {
  if (serve! && serve.child.exitCode === null) serve.child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
