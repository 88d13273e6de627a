import { request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import { buildIndex } from '../src/index/build.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { createApp } from '../src/server/app.js';
import { createHttpServer } from '../src/server/http-server.js';
import { DemoService } from '../src/service/service.js';
import { DEFAULT_SETTINGS, type Settings } from '../src/settings.js';
import { tempDir } from './helpers.js';

/**
 * Issue 17, item 2: the idle-socket timeout protects against slow or idle clients and never cuts work the server is
 * doing. Real server on loopback, real USE-lite model, the sample index; the timeouts set far below their defaults.
 */

const dir = tempDir();
const indexDir = join(dir, 'sample');
const servers: Server[] = [];

beforeAll(async () => {
  const embedder = await createEmbedder('use-lite');
  const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
  await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out: indexDir, name: 'sample' });
  await embedder.close?.();
});
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

async function serve(settings: Partial<Settings>): Promise<{ port: number; service: DemoService; server: Server }> {
  const all = { ...DEFAULT_SETTINGS, ...settings };
  const service = await DemoService.load([indexDir], { role: 'serve', settings: all });
  const server = createHttpServer(createApp(service, { maxBodyBytes: all.maxBodyBytes }), all).listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  return { port: (server.address() as AddressInfo).port, service, server };
}

/** `n` queries of 2000 characters: 13 to 25 ms of embedding each on one core. */
const longQueries = (n: number, tag = '') => Array.from({ length: n }, (_, i) => ({ utterance: `${tag}${i} ${'and so the story goes on and on '.repeat(70)}`.slice(0, 2000) }));

interface Timed {
  status: number;
  body: string;
  /** ms from sending to the status line and headers, to the first result, to the end. */
  headersMs: number;
  firstResultMs: number;
  endMs: number;
}

/** POSTs a batch and times its answer; rejects if the connection fails before the answer is complete. */
function postTimed(port: number, body: unknown): Promise<Timed> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/demonstrations', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      const headersMs = performance.now() - started;
      let text = '';
      let firstResultMs = -1;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (firstResultMs < 0 && text.includes('"demonstrations"')) firstResultMs = performance.now() - started;
      });
      res.on('end', () => resolvePromise({ status: res.statusCode!, body: text, headersMs, firstResultMs, endMs: performance.now() - started }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error(`answer cut after ${(performance.now() - started).toFixed(0)} ms`)));
    });
    req.on('error', (e) => reject(new Error(`connection failed after ${(performance.now() - started).toFixed(0)} ms: ${e.message}`)));
    req.end(JSON.stringify(body));
  });
}

describe('the idle-socket timeout counts only the client', () => {
  it('a batch whose work outlasts the timeout is answered in full, its headers and first results sent at once', async () => {
    // The whole-request timeout too: it counts until the request is received, not while it is answered.
    const { port } = await serve({ socketTimeoutMs: 500, headersTimeoutMs: 500, requestTimeoutMs: 500 });
    const answer = await postTimed(port, { queries: longQueries(100) });
    expect(answer.status).toBe(200);
    const { results } = JSON.parse(answer.body) as { results: { demonstrations: unknown[] }[] };
    expect(results).toHaveLength(100);
    expect(results.every((r) => r.demonstrations.length === 5)).toBe(true);
    expect(answer.endMs).toBeGreaterThan(500); // the work did outlast the timeout
    // Before: the headers waited for the whole batch to be embedded.
    expect(answer.headersMs).toBeLessThan(answer.endMs / 4);
    expect(answer.firstResultMs).toBeLessThan(answer.endMs / 2);
  });

  it('concurrent batches all complete, however long each waits for its share of the embedder', async () => {
    // 200 ms: each batch gets a third of the embedder, so the gaps between its results are long against it.
    const { port } = await serve({ socketTimeoutMs: 200 });
    const answers = await Promise.all([0, 1, 2].map((b) => postTimed(port, { queries: longQueries(25, `batch ${b} `) })));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect((JSON.parse(answer.body) as { results: unknown[] }).results).toHaveLength(25);
    }
    expect(Math.min(...answers.map((a) => a.endMs))).toBeGreaterThan(200);
  });

  it('while a long batch completes, a client that stops reading its answer is closed at the timeout, and an idle kept-alive one at the keep-alive timeout', async () => {
    const { port, service, server } = await serve({ socketTimeoutMs: 500, keepAliveTimeoutMs: 500, maxDemonstrations: 1_000_000 });
    // When the server closes each connection, by the client's port (a client that does not read sees it only later).
    const serverClosed = new Map<number, Promise<number>>();
    server.on('connection', (socket: Socket) => {
      serverClosed.set(socket.remotePort!, new Promise((r) => socket.once('close', () => r(performance.now()))));
    });
    const long = postTimed(port, { queries: longQueries(100) });
    long.catch(() => {}); // awaited below; a failure meanwhile is not an unhandled rejection

    // A ~25 MB answer (1000 per-label queries, every row of the sample each) to a client that never reads it: the
    // server's buffer fills, and from then on it waits on the client, which the timeout bounds.
    const big = JSON.stringify({ queries: Array.from({ length: 1000 }, (_, i) => ({ utterance: `hi ${i}`, strategy: 'per-label', k: 100 })) });
    const stalled = await new Promise<Socket>((r) => {
      const s = connect(port, '127.0.0.1', () => r(s));
    });
    stalled.on('error', () => {});
    stalled.pause();
    stalled.write(`POST /demonstrations HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(big)}\r\n\r\n${big}`);
    const stalledOpened = performance.now();

    // A kept-alive connection that asked once and then says nothing.
    const idle = connect(port, '127.0.0.1');
    idle.on('error', () => {});
    let idleAnswer = '';
    idle.on('data', (c: Buffer) => (idleAnswer += c.toString()));
    idle.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const idleOpened = performance.now();
    const idleClosed = new Promise<number>((r) => idle.once('close', () => r(performance.now() - idleOpened)));

    expect(await idleClosed).toBeLessThan(5000);
    expect(idleAnswer).toMatch(/^HTTP\/1\.1 200/);
    const answer = await long;
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.body) as { results: unknown[] }).results).toHaveLength(100);
    expect(answer.endMs).toBeGreaterThan(500);
    const stalledMs = (await serverClosed.get(stalled.localPort!)!) - stalledOpened;
    expect(stalledMs).toBeGreaterThan(500);
    expect(stalledMs).toBeLessThan(30_000);
    // What the client gets when it reads at last: part of the answer, then the end of the connection.
    let got = '';
    stalled.on('data', (c: Buffer) => (got = (got + c.toString()).slice(-100)));
    stalled.resume();
    await new Promise((r) => stalled.once('close', r));
    expect(got).not.toMatch(/"took_ms":[\d.]+\}\r\n0\r\n\r\n$/);
    // Its work stopped with it: nothing of it is left waiting for the embedder or the main thread.
    await new Promise((r) => setTimeout(r, 200));
    expect(service.share.queued).toBe(0);
  });
});
