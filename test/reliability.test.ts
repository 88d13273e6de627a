import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServeProcess } from './support/serve-process.js';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import type { ScheduledEmbedder } from '../src/embed/scheduler.js';
import { buildIndex } from '../src/index/build.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { createApp } from '../src/server/app.js';
import { createHttpServer } from '../src/server/http-server.js';
import { newLifecycle } from '../src/server/shutdown.js';
import { DemoService } from '../src/service/service.js';
import { batchSettings } from '../src/cli/batch-settings.js';
import { DEFAULT_SETTINGS, SETTINGS_TABLE, settingsFromEnv } from '../src/settings.js';
import { tempDir } from './helpers.js';

interface ErrorBody { error: { param: string | null; message: string } }
interface DemoBody { demonstrations: { label: string; text: string }[] }

const BIN = resolve(__dirname, '..', 'bin', 'erc-demos.mjs');
const dir = tempDir();
const indexDir = join(dir, 'sample');

beforeAll(async () => {
  const embedder = await createEmbedder('use-lite');
  const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
  await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out: indexDir, name: 'sample' });
});

/** Sends raw bytes on a fresh connection and returns what comes back until the server closes it. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let got = '';
    socket.on('data', (c) => (got += c.toString()));
    socket.on('end', () => resolvePromise(got));
    socket.on('error', reject);
  });
}

describe('bounded work per request, over HTTP on loopback', () => {
  let server: Server;
  let base: string;
  let port: number;
  let service: DemoService;

  beforeAll(async () => {
    service = await DemoService.load([indexDir], { role: 'serve' });
    server = createHttpServer(createApp(service), DEFAULT_SETTINGS);
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  async function call<T>(path: string, body?: unknown): Promise<{ status: number; body: T; ms: number }> {
    const started = performance.now();
    const res = await fetch(base + path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    return { status: res.status, body: (await res.json()) as T, ms: performance.now() - started };
  }

  it('repeated labels are searched once; a list longer than the limit is a 400 naming it, before any work', async () => {
    const twice = await call<DemoBody>('/demonstrations?utterance=so%20happy&strategy=per-label&k=2&labels=joy,JOY,joyful,anger');
    expect(twice.status).toBe(200);
    expect(twice.body.demonstrations.map((d) => d.label).sort()).toEqual(['anger', 'anger', 'joy', 'joy']);
    const many = await call<ErrorBody>(`/demonstrations?utterance=hello&strategy=per-label&k=100&labels=${Array(2500).fill('anger').join(',')}`);
    expect(many.status).toBe(400);
    expect(many.body.error.param).toBe('labels');
    expect(many.body.error.message).toMatch(/2500 items, over this service's limit of 100 \(ERC_DEMOS_MAX_LIST_ITEMS\)/);
    const post = await call<ErrorBody>('/demonstrations', { queries: [{ utterance: 'hello', strategy: 'per-label', k: 100, labels: Array(20_000).fill('anger') }] });
    expect(post.status).toBe(400);
    expect(post.body.error.param).toBe('labels');
  });

  it('batches over the query, character or demonstration budget are 400s naming queries', async () => {
    const tooMany = await call<ErrorBody>('/demonstrations', { queries: Array.from({ length: 1001 }, () => ({ utterance: 'hi' })) });
    expect([tooMany.status, tooMany.body.error.param]).toEqual([400, 'queries']);
    expect(tooMany.body.error.message).toMatch(/1001 queries.*ERC_DEMOS_MAX_BATCH_QUERIES/);
    const long = 'word '.repeat(400);
    const tooLong = await call<ErrorBody>('/demonstrations', { queries: Array.from({ length: 101 }, () => ({ utterance: long })) });
    expect([tooLong.status, tooLong.body.error.param]).toEqual([400, 'queries']);
    expect(tooLong.body.error.message).toMatch(/202000 characters.*ERC_DEMOS_MAX_REQUEST_CHARS/);
    const tooManyDemos = await call<ErrorBody>('/demonstrations', { queries: Array.from({ length: 20 }, () => ({ utterance: 'hi', strategy: 'per-label', k: 100, dedup: true })) });
    expect([tooManyDemos.status, tooManyDemos.body.error.param]).toEqual([400, 'queries']);
    expect(tooManyDemos.body.error.message).toMatch(/14000 demonstrations.*ERC_DEMOS_MAX_DEMONSTRATIONS/);
    const ok = await call<{ results: DemoBody[]; took_ms: number }>('/demonstrations', { queries: Array.from({ length: 14 }, () => ({ utterance: 'hi', strategy: 'per-label', k: 100 })) });
    expect(ok.status).toBe(200);
    expect(ok.body.results).toHaveLength(14);
    expect(ok.body.took_ms).toBeGreaterThan(0);
  });

  it('ERC_DEMOS_MAX_BATCH_QUERIES raises the batch limit as well as lowering it', async () => {
    const roomy = await DemoService.load([indexDir], { settings: { ...DEFAULT_SETTINGS, maxBatchQueries: 1200 } });
    const app = createHttpServer(createApp(roomy), DEFAULT_SETTINGS).listen(0, '127.0.0.1');
    await new Promise((r) => app.once('listening', r));
    const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}/demonstrations`;
    const send = (n: number) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ queries: Array.from({ length: n }, (_, i) => ({ utterance: `hi ${i}`, k: 1 })) }) });
    const ok = await send(1100);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { results: unknown[] }).results).toHaveLength(1100);
    const over = await send(1201);
    expect([over.status, ((await over.json()) as ErrorBody).error.message]).toEqual([400, "queries: has 1201 queries, over this service's limit of 1200 (ERC_DEMOS_MAX_BATCH_QUERIES)"]);
    await new Promise((r) => app.close(r));
  });

  it('a template that repeats the history is refused before rendering: a 400 naming the window, never a 500', async () => {
    // The reproduction (500 turns of 2000 characters) is refused for its size alone...
    const turns = Array.from({ length: 500 }, (_, i) => ({ speaker: `S${i % 2}`, text: `${i} ${'x'.repeat(1990)}` }));
    const format = (repeats: number) => ({ name: 'amp', template: `${'{history}'.repeat(repeats)} {demonstrations}`, window: 1000 });
    const whole = await call<ErrorBody>('/prompts', { format: format(450), dialogue: { turns }, target: 499, options: { window: 1000 } });
    expect([whole.status, whole.body.error.param]).toEqual([400, 'dialogue.turns']);
    expect(whole.body.error.message).toMatch(/ERC_DEMOS_MAX_REQUEST_CHARS/);
    // ...and within that limit, the template's amplification is refused before anything is built.
    const fits = turns.slice(0, 90);
    for (const repeats of [450, 600]) {
      const res = await call<ErrorBody>('/prompts', { format: format(repeats), dialogue: { turns: fits }, target: 89, options: { window: 1000 } });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe('options.window');
      expect(res.body.error.message).toMatch(/ERC_DEMOS_MAX_PROMPT_CHARS.*\{history\} alone brings \d+ characters \(\d+ times\)/);
      expect(res.ms).toBeLessThan(1000);
    }
    const turnAmp = { name: 'amp2', template: '{history}', turn: '{text}'.repeat(90), window: 1000 };
    const res = await call<ErrorBody>('/prompts', { format: turnAmp, dialogue: { turns: fits }, target: 89 });
    expect([res.status, res.body.error.param]).toEqual([400, 'options.window']);
  });

  it('a placeholder that is not a template variable, like {constructor}, is a 400, not Object\'s constructor', async () => {
    const res = await call<ErrorBody>('/prompts', { format: { name: 'p', template: '{constructor} {history}' }, dialogue: { turns: [{ speaker: 'A', text: 'hi' }] }, target: 0 });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/unknown placeholder \{constructor\}/);
  });

  it('__proto__ and constructor are unknown parameters like any other', async () => {
    for (const key of ['__proto__', 'constructor']) {
      const res = await call<ErrorBody>(`/demonstrations?utterance=hi&${key}=x`);
      expect([res.status, res.body.error.param, res.body.error.message]).toEqual([400, key, `${key}: unknown parameter`]);
    }
    const post = await fetch(`${base}/demonstrations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"queries":[{"utterance":"hi","__proto__":{"k":3}}]}' });
    expect(post.status).toBe(400);
    expect(((await post.json()) as ErrorBody).error.param).toBe('queries.0.__proto__');
  });

  it('a 2000-character GET in CJK or emoji is answered; a URL past the header limit gets a JSON 431', async () => {
    for (const text of ['我今天很高兴见到你们大家'.repeat(200).slice(0, 2000), '😀😡😢'.repeat(400).slice(0, 2000)]) {
      expect(text.length).toBe(2000);
      const res = await call<DemoBody>(`/demonstrations?utterance=${encodeURIComponent(text)}&k=3&labels=${Array(100).fill('joy').join(',')}`);
      expect(res.status).toBe(200);
      expect(res.body.demonstrations).toHaveLength(3);
    }
    const huge = await fetch(`${base}/demonstrations?utterance=${'a'.repeat(70_000)}`);
    expect(huge.status).toBe(431);
    expect(huge.headers.get('x-content-type-options')).toBe('nosniff');
    expect(((await huge.json()) as ErrorBody).error.message).toMatch(/over 65536 bytes \(ERC_DEMOS_MAX_HEADER_BYTES\); send long input by POST/);
    const garbage = await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 Bad Request[\s\S]*"malformed HTTP request/);
    expect(garbage).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/);
  });

  it('GET /indexes shows names and manifests, not where the server keeps its files', async () => {
    const res = await call<{ indexes: Record<string, unknown>[] }>('/indexes');
    expect(Object.keys(res.body.indexes[0]).sort()).toEqual(['manifest', 'name', 'written']);
    expect(JSON.stringify(res.body)).not.toContain(dir);
  });

  it('single GETs are answered while a big batch runs, and a batch whose client leaves stops', async () => {
    const embedder = service.embedderFor(service.index().index) as ScheduledEmbedder;
    const long = (i: number) => `${i} ${'on and on about nothing at all '.repeat(70)}`.slice(0, 2000);
    const batch = { queries: Array.from({ length: 100 }, (_, i) => ({ utterance: long(i) })) };
    const started = performance.now();
    let batchMs = 0;
    const running = call('/demonstrations', batch).then(() => (batchMs = performance.now() - started));
    await new Promise((r) => setTimeout(r, 100));
    const gets: number[] = [];
    for (let i = 0; i < 5; i++) gets.push((await call(`/demonstrations?utterance=hello%20${i}&k=3`)).ms);
    const getsDone = performance.now() - started;
    await running;
    expect(getsDone).toBeLessThan(batchMs);
    expect(Math.max(...gets)).toBeLessThan(batchMs / 4);

    // The client goes away mid-batch: its sentences leave the embedder's queue. Other sentences than the first
    // batch's, which the query vector cache now holds.
    const another = { queries: batch.queries.map((_, i) => ({ utterance: long(i + 1000) })) };
    await new Promise<void>((resolvePromise) => {
      const req = httpRequest(`${base}/demonstrations`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('error', () => resolvePromise());
      req.end(JSON.stringify(another));
      setTimeout(() => {
        expect(embedder.queued).toBeGreaterThan(0);
        req.destroy();
        resolvePromise();
      }, 300);
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(embedder.queued).toBe(0);
  });
});

describe('draining, in process', () => {
  it('/healthz answers 503 and every answer closes its connection', async () => {
    const service = await DemoService.load([indexDir]);
    const lifecycle = newLifecycle();
    const server = createHttpServer(createApp(service, { lifecycle }), DEFAULT_SETTINGS).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    lifecycle.draining = true;
    const res = await fetch(`${base}/healthz`);
    expect([res.status, res.headers.get('connection'), await res.json()]).toEqual([503, 'close', { status: 'draining' }]);
    const demos = await fetch(`${base}/demonstrations?utterance=hi&k=1`);
    expect([demos.status, demos.headers.get('connection')]).toEqual([200, 'close']);
    await new Promise((r) => server.close(r));
  });
});

describe('settings', () => {
  it('come from the environment, and a bad value names its variable', () => {
    expect(settingsFromEnv({ ERC_DEMOS_MAX_BATCH_QUERIES: '50' }).maxBatchQueries).toBe(50);
    expect(settingsFromEnv({}).maxBatchQueries).toBe(1000);
    expect(() => settingsFromEnv({ ERC_DEMOS_SHUTDOWN_TIMEOUT_MS: 'soon' })).toThrow(/ERC_DEMOS_SHUTDOWN_TIMEOUT_MS=soon: must be an integer/);
    expect(() => settingsFromEnv({ ERC_DEMOS_MAX_LIST_ITEMS: '0' })).toThrow(/ERC_DEMOS_MAX_LIST_ITEMS=0: must be at least 1/);
  });

  it('prompts and eval keep every vector they read unless ERC_DEMOS_VECTOR_CACHE_MB is set', () => {
    expect(batchSettings({}).vectorCacheMb).toBe(Number.POSITIVE_INFINITY);
    expect(batchSettings({ ERC_DEMOS_VECTOR_CACHE_MB: '64' }).vectorCacheMb).toBe(64);
    expect(settingsFromEnv({}).vectorCacheMb).toBe(256);
  });

  it('are all documented in docs/RELIABILITY.md with their defaults', () => {
    const doc = readFileSync(resolve(__dirname, '..', 'docs', 'RELIABILITY.md'), 'utf8');
    for (const s of SETTINGS_TABLE) expect(doc).toContain(`| \`${s.env}\` | ${s.default} | ${s.doc} |`);
  });
});

describe('erc-demos serve: shutdown and start, as a separate process', () => {
  /**
   * POSTs a batch of `n` 2000-character queries; resolves with the status, Connection header and body, and whether
   * the server closed the connection after the answer; or the error.
   */
  function postBatch(url: string, n: number): Promise<{ status: number; connection: string | undefined; body: string; serverClosed: Promise<void> } | { error: string }> {
    const batch = JSON.stringify({ queries: Array.from({ length: n }, (_, i) => ({ utterance: `${i} ${'and so it goes on '.repeat(110)}`.slice(0, 2000) })) });
    return new Promise((resolvePromise) => {
      const req = httpRequest(`${url}/demonstrations`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let body = '';
        const serverClosed = new Promise<void>((r) => res.socket.once('close', () => r()));
        res.on('data', (c) => (body += c));
        res.on('end', () => resolvePromise({ status: res.statusCode!, connection: res.headers.connection, body, serverClosed }));
        res.on('error', (e) => resolvePromise({ error: e.message }));
      });
      req.on('error', (e) => resolvePromise({ error: e.message }));
      req.end(batch);
    });
  }

  it('on SIGTERM: the answer in flight completes with Connection: close; idle and half-sent sockets do not hold it', async () => {
    const serve = await startServeProcess([BIN, 'serve', '--index', indexDir, '--port', '0'], { ERC_DEMOS_SHUTDOWN_TIMEOUT_MS: '8000' });
    const port = Number(new URL(serve.url).port);
    // A client that sent half its headers holds its socket; an idle one has sent nothing at all.
    const holder = connect(port, '127.0.0.1', () => holder.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
    const idle: Socket = connect(port, '127.0.0.1');
    for (const s of [holder, idle]) s.on('error', () => {});
    const closed = Promise.all([holder, idle].map((s) => new Promise((r) => s.once('close', r))));
    const inFlight = postBatch(serve.url, 40); // about a second of embedding
    await new Promise((r) => setTimeout(r, 150));
    const stopped = performance.now();
    serve.child.kill('SIGTERM');
    const answer = await inFlight;
    if ('error' in answer) throw new Error(answer.error);
    expect(answer.status).toBe(200);
    // A batch's headers go out as soon as it starts (so the signal came too late for Connection: close): the answer
    // completes whole and the server closes the connection after it.
    expect(answer.connection).toBe('keep-alive');
    expect((JSON.parse(answer.body) as { results: unknown[] }).results).toHaveLength(40);
    await answer.serverClosed;
    await closed;
    const refused = await fetch(`${serve.url}/healthz`).then(() => 'answered', () => 'refused');
    expect(refused).toBe('refused');
    const { code } = await serve.exited;
    const seconds = (performance.now() - stopped) / 1000;
    expect(code).toBe(0);
    expect(seconds).toBeLessThan(5); // well before the 8 s deadline: nothing held it
    expect(serve.stderr()).toMatch(/SIGTERM: draining[\s\S]*drained; exiting/);
  });

  it('on SIGTERM: a request still running at the deadline is cut, and the process exits then', async () => {
    const serve = await startServeProcess([BIN, 'serve', '--index', indexDir, '--port', '0'], { ERC_DEMOS_SHUTDOWN_TIMEOUT_MS: '600' });
    const inFlight = postBatch(serve.url, 100); // a few seconds of embedding
    await new Promise((r) => setTimeout(r, 150));
    const stopped = performance.now();
    serve.child.kill('SIGTERM');
    const { code, signal } = await serve.exited;
    const seconds = (performance.now() - stopped) / 1000;
    // Exit 0, not a crash: the worker thread's onnxruntime call ends before the process does.
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(seconds).toBeGreaterThan(0.5);
    expect(seconds).toBeLessThan(2.5);
    expect(await inFlight).toHaveProperty('error');
    expect(serve.stderr()).toMatch(/closed the connections left at the deadline/);
  });

  it('when the port is taken, says so and exits 1 without claiming to listen', async () => {
    const blocker = createTcpServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const { port } = blocker.address() as AddressInfo;
    const failed = startServeProcess([BIN, 'serve', '--index', indexDir, '--port', String(port)]);
    await expect(failed).rejects.toThrow(/server exited \(1\)[\s\S]*cannot listen on 127\.0\.0\.1:\d+: listen EADDRINUSE/);
    await expect(failed).rejects.not.toThrow(/listening on/);
    blocker.close();
  });
});
