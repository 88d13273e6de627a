import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import { buildIndex } from '../src/index/build.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { createApp } from '../src/server/app.js';
import { createLogger } from '../src/server/logging.js';
import { DemoService } from '../src/service/service.js';
import { tempDir } from './helpers.js';

const dir = tempDir();
let service: DemoService;

beforeAll(async () => {
  const embedder = await createEmbedder('use-lite');
  const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
  await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out: join(dir, 'sample'), name: 'sample' });
  service = await DemoService.load([join(dir, 'sample')], { role: 'serve' });
});

/** Serves the app with a logger at `level` whose JSON lines are collected. */
async function serveWithLogs(level: string, served: DemoService = service): Promise<{ server: Server; base: string; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>); done(); } });
  const server = createApp(served, { logger: createLogger(level, sink) }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lines };
}

describe('metrics', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => ({ server, base } = await serveWithLogs('silent')));
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('GET /metrics scrapes in Prometheus text format with requests by route and status, embedder, index and process series', async () => {
    // Bodies are read to the end: a request is counted when its answer finished, and a batch answer streams.
    await (await fetch(`${base}/demonstrations?utterance=so%20happy&k=2`)).text();
    await (await fetch(`${base}/demonstrations?utterance=so%20happy&k=0`)).text();
    await (await fetch(`${base}/demonstrations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ queries: [{ utterance: 'a' }, { utterance: 'b' }] }) })).text();
    await (await fetch(`${base}/no/such/path?utterance=secret`)).text();
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^erc_demos_http_requests_total\{method="GET",route="\/demonstrations",status="200"\} 1$/m);
    expect(text).toMatch(/^erc_demos_http_requests_total\{method="GET",route="\/demonstrations",status="400"\} 1$/m);
    expect(text).toMatch(/^erc_demos_http_requests_total\{method="POST",route="\/demonstrations",status="200"\} 1$/m);
    expect(text).toMatch(/^erc_demos_http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m);
    expect(text).not.toContain('secret');
    expect(text).toMatch(/^erc_demos_http_request_duration_seconds_bucket\{le="0\.25",method="GET",route="\/demonstrations",status="200"\} 1$/m);
    expect(text).toMatch(/^erc_demos_embedder_queue_sentences\{embedder="use-lite"\} 0$/m);
    expect(text).toMatch(/^erc_demos_embedder_call_sentences_count\{embedder="use-lite"\} [1-9]\d*$/m);
    expect(text).toMatch(/^erc_demos_index_rows\{index="sample"\} 100$/m);
    expect(text).toMatch(/^erc_demos_index_info\{index="sample",corpus="sample",splits="train",embedder="use-lite",projection="none",built_at="[^"]+"\} 1$/m);
    expect(text).toMatch(/^erc_demos_process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^erc_demos_nodejs_eventloop_lag_seconds /m);
  });
});

describe('logs', () => {
  it('one JSON line per request, with the request id echoed in x-request-id; no utterance text at info', async () => {
    const { server, base, lines } = await serveWithLogs('info');
    const res = await fetch(`${base}/demonstrations?utterance=my%20secret%20feelings&k=1`);
    const given = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'trace-42' } });
    const forged = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'bad id\twith spaces' } });
    await new Promise<void>((r) => server.close(() => r()));
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(given.headers.get('x-request-id')).toBe('trace-42');
    expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const line = lines.find((l) => (l.req as { id?: string } | undefined)?.id === id)!;
    expect(line).toMatchObject({ level: 30, service: 'erc-demos', msg: 'request completed', req: { id, method: 'GET', path: '/demonstrations' }, res: { status: 200 } });
    expect(typeof line.responseTime).toBe('number');
    expect(lines.some((l) => (l.req as { id?: string } | undefined)?.id === 'trace-42')).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('secret');
  });

  it('a GET answer is JSON with its length and no ETag; a 5xx is logged at level error as "request errored", with the door\'s own line', async () => {
    const { server: ok, base: okBase } = await serveWithLogs('info');
    const res = await fetch(`${okBase}/demonstrations?utterance=so%20happy&k=2`);
    const body = Buffer.from(await res.arrayBuffer());
    await new Promise<void>((r) => ok.close(() => r()));
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(Number(res.headers.get('content-length'))).toBe(body.length);
    expect(res.headers.get('etag')).toBeNull();
    expect((JSON.parse(body.toString()) as { demonstrations: unknown[] }).demonstrations).toHaveLength(2);
    // A closed service answers every query with SERVICE_CLOSED: a fault of the service, a 500.
    const closed = await DemoService.load([join(dir, 'sample')], { role: 'serve' });
    await closed.close();
    const { server, base, lines } = await serveWithLogs('info', closed);
    const failed = await fetch(`${base}/demonstrations?utterance=hello&k=1`, { headers: { 'x-request-id': 'fails-1' } });
    await new Promise<void>((r) => server.close(() => r()));
    expect(failed.status).toBe(500);
    const mine = lines.filter((l) => (l.req as { id?: string } | undefined)?.id === 'fails-1');
    expect(mine.find((l) => l.msg === 'unexpected error')).toMatchObject({ level: 50, req: { id: 'fails-1', method: 'GET', path: '/demonstrations' }, err: { type: 'ServiceClosedError' } });
    const line = mine.find((l) => l.msg === 'request errored')!;
    expect(line).toMatchObject({ level: 50, service: 'erc-demos', req: { id: 'fails-1' }, res: { status: 500 }, err: { message: 'failed with status code 500' } });
    expect(typeof line.responseTime).toBe('number');
  });

  it('at debug level the query string is logged; a bad ERC_DEMOS_LOG_LEVEL is refused by name', async () => {
    const { server, base, lines } = await serveWithLogs('debug');
    await fetch(`${base}/demonstrations?utterance=visible%20now&k=1`);
    await new Promise<void>((r) => server.close(() => r()));
    expect(JSON.stringify(lines)).toContain('utterance=visible%20now');
    expect(() => createLogger('loud')).toThrow(/ERC_DEMOS_LOG_LEVEL=loud: must be one of/);
  });
});
