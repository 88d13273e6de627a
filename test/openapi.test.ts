import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import { buildIndex } from '../src/index/build.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { writeFileSync } from 'node:fs';
import { createApp } from '../src/server/app.js';
import { ApiKeys } from '../src/keys/ring.js';
import { createHttpServer } from '../src/server/http-server.js';
import { newLifecycle } from '../src/server/shutdown.js';
import { DemoService } from '../src/service/service.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { tempDir } from './helpers.js';

type Doc = { paths: Record<string, Record<string, { parameters?: { name: string }[]; responses: Record<string, unknown> }>> };

describe('OpenAPI 3.1 document, generated from the zod schemas', () => {
  const dir = tempDir();
  const lifecycle = newLifecycle();
  let server: Server;
  let base: string;
  let doc: Doc;
  const ajv = new Ajv2020({ strict: false, allErrors: true });

  beforeAll(async () => {
    const embedder = await createEmbedder('use-lite');
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out: join(dir, 'sample'), name: 'sample' });
    const service = await DemoService.load([join(dir, 'sample')]);
    // Short timeouts and a small body limit, so 408 and 413 are quick to provoke.
    const settings = { ...DEFAULT_SETTINGS, headersTimeoutMs: 300, requestTimeoutMs: 600, maxBodyBytes: 4096 };
    server = createHttpServer(createApp(service, { lifecycle, maxBodyBytes: settings.maxBodyBytes }), settings).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    doc = (await (await fetch(`${base}/openapi.json`)).json()) as Doc;
    ajv.addSchema(doc as object, 'openapi');
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  /** Checks a real answer against the document's schema for that route, method and status. */
  async function conforms(path: string, method: string, res: Response): Promise<void> {
    const status = String(res.status);
    expect(doc.paths[path][method].responses, `${method} ${path} documents ${status}`).toHaveProperty(status);
    const pointer = `openapi#/paths/${path.replaceAll('/', '~1')}/${method}/responses/${status}/content/application~1json/schema`;
    const validate = ajv.compile({ $ref: pointer });
    const body = (await res.json()) as unknown;
    expect(validate(body), `${method} ${path} ${status}: ${JSON.stringify(validate.errors)}`).toBe(true);
  }

  it('validates as OpenAPI 3.1 and documents every route, every query parameter and the limits', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/', '/demonstrations', '/formats', '/healthz', '/indexes', '/indexes/{name}/dialogues', '/indexes/{name}/dialogues/{dialogue}',
      '/indexes/{name}/dialogues/{dialogue}/turns/{turn}', '/metrics', '/openapi.json', '/prompts',
    ]);
    expect(doc.paths['/demonstrations'].get.parameters!.map((p) => p.name).sort())
      .toEqual(['corpus', 'cross_fit', 'dedup', 'dialogue', 'exclude_dialogue', 'index', 'k', 'labels', 'lambda', 'split', 'strategy', 'utterance']);
    expect((doc as unknown as { 'x-limits': Record<string, number> })['x-limits'].maxDemonstrations).toBe(DEFAULT_SETTINGS.maxDemonstrations);
  });

  it('real answers of every route, successes and errors, validate against it', async () => {
    const post = (path: string, body: unknown) => fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await conforms('/demonstrations', 'get', await fetch(`${base}/demonstrations?utterance=so%20happy&k=3`));
    await conforms('/demonstrations', 'get', await fetch(`${base}/demonstrations?utterance=so%20happy&strategy=per-label&dedup=true`));
    await conforms('/demonstrations', 'get', await fetch(`${base}/demonstrations?utterance=hi&k=0`));
    await conforms('/demonstrations', 'get', await fetch(`${base}/demonstrations?utterance=${'a'.repeat(70_000)}`));
    await conforms('/demonstrations', 'post', await post('/demonstrations', { queries: [{ utterance: 'hi', k: 2 }, { utterance: 'oh no', labels: ['fear'] }] }));
    await conforms('/demonstrations', 'post', await post('/demonstrations', { queries: [{ utterance: 'hi', k: 'x' }] }));
    await conforms('/demonstrations', 'post', await post('/demonstrations', { queries: Array.from({ length: 300 }, () => ({ utterance: 'a long enough utterance' })) }));
    const dialogue = { turns: [{ speaker: 'A', text: 'I got the job!', label: 'joy' }, { speaker: 'B', text: 'No way, congratulations!' }] };
    await conforms('/prompts', 'post', await post('/prompts', { format: 'instructerc', dialogue, target: 1, options: { k: 2 } }));
    await conforms('/prompts', 'post', await post('/prompts', { format: 'instructerc', dialogue, target: 5 }));
    await conforms('/indexes', 'get', await fetch(`${base}/indexes`));
    await conforms('/formats', 'get', await fetch(`${base}/formats`));
    await conforms('/healthz', 'get', await fetch(`${base}/healthz`));
    // A 408 from the HTTP layer: headers that never finish.
    const timedOut = await new Promise<string>((resolve) => {
      const s = connect(Number(new URL(base).port), '127.0.0.1', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
      let got = '';
      s.on('data', (c) => (got += c.toString()));
      s.on('close', () => resolve(got));
    });
    expect(timedOut).toMatch(/^HTTP\/1\.1 408/);
    await conforms('/demonstrations', 'get', new Response(timedOut.slice(timedOut.indexOf('\r\n\r\n') + 4), { status: 408 }));
    lifecycle.draining = true;
    await conforms('/healthz', 'get', await fetch(`${base}/healthz`));
    lifecycle.draining = false;
    // Not vacuous: an answer with a field the schema lacks, or missing one, fails.
    const validate = ajv.compile({ $ref: 'openapi#/paths/~1demonstrations/get/responses/200/content/application~1json/schema' });
    expect(validate({ index: 'x', embedder: 'y', took_ms: 1, demonstrations: [], extra: 1 })).toBe(false);
    expect(validate({ index: 'x', embedder: 'y', demonstrations: [] })).toBe(false);
  });

  it('declares the bearer scheme, and the 401 and 403 of a service with keys validate against it', async () => {
    const full = doc as unknown as Doc & { components: { securitySchemes: Record<string, { type: string; scheme: string }> }; security: unknown[] };
    expect(full.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(full.security).toEqual([{ apiKey: [] }]);
    const ops = full.paths as Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
    expect(ops['/healthz'].get.security).toEqual([]);
    expect(ops['/'].get.security).toEqual([]);
    for (const [path, method] of [['/demonstrations', 'get'], ['/demonstrations', 'post'], ['/prompts', 'post'], ['/indexes', 'get'], ['/formats', 'get'], ['/metrics', 'get'], ['/openapi.json', 'get']]) {
      expect(ops[path][method].security, `${method} ${path}`).toBeUndefined(); // the document's: a key
      expect(ops[path][method].responses, `${method} ${path}`).toHaveProperty('401');
    }
    for (const [path, method] of [['/demonstrations', 'get'], ['/demonstrations', 'post'], ['/prompts', 'post']]) expect(ops[path][method].responses).toHaveProperty('403');
    // Real answers of a service with keys.
    const key = 'k'.repeat(40);
    const file = join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify({ keys: [{ name: 'limited', scope: 'read', key, indexes: ['elsewhere'] }] }));
    const service = await DemoService.load([join(dir, 'sample')]);
    const keyed = createHttpServer(createApp(service, { keys: new ApiKeys({ file }) }), DEFAULT_SETTINGS).listen(0, '127.0.0.1');
    await new Promise((r) => keyed.once('listening', r));
    try {
      const url = `http://127.0.0.1:${(keyed.address() as AddressInfo).port}`;
      const none = await fetch(`${url}/demonstrations?utterance=hi`);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="erc-demos"');
      await conforms('/demonstrations', 'get', none);
      await conforms('/indexes', 'get', await fetch(`${url}/indexes`, { headers: { authorization: 'Bearer wrong' } }));
      await conforms('/demonstrations', 'get', await fetch(`${url}/demonstrations?utterance=hi`, { headers: { authorization: `Bearer ${key}` } }));
      await conforms('/demonstrations', 'post', await fetch(`${url}/demonstrations`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ queries: [{ utterance: 'hi', index: 'sample' }] }) }));
    } finally {
      await new Promise<void>((r) => keyed.close(() => r()));
      await service.close();
    }
  });
});
