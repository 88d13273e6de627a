import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { charCount } from '../src/chars.js';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import { buildIndex } from '../src/index/build.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { fill } from '../src/prompt/fill.js';
import { PromptFormatSchema } from '../src/prompt/formats.js';
import { createApp } from '../src/server/app.js';
import { createHttpServer } from '../src/server/http-server.js';
import { createLogger } from '../src/server/logging.js';
import { allowedHosts, hostName, isLoopbackHost } from '../src/server/request-guards.js';
import { DemoService } from '../src/service/service.js';
import { DEFAULT_SETTINGS, settingsFromEnv } from '../src/settings.js';
import { tempDir } from './helpers.js';

interface ErrorBody { error: { param: string | null; message: string } }

const dir = tempDir();
const indexDir = join(dir, 'sample');
let service: DemoService;

beforeAll(async () => {
  const embedder = await createEmbedder('use-lite');
  const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
  await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out: indexDir, name: 'sample' });
  service = await DemoService.load([indexDir], { role: 'serve' });
});
afterAll(() => service?.close());

/** A server on loopback over `service`, its JSON log lines collected. */
async function serve(options: { allowedHosts?: ReturnType<typeof allowedHosts>; settings?: typeof DEFAULT_SETTINGS; with?: DemoService } = {}): Promise<{ server: Server; port: number; base: string; logs: Record<string, unknown>[] }> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(l) as Record<string, unknown>); done(); } });
  const settings = options.settings ?? DEFAULT_SETTINGS;
  const app = createApp(options.with ?? service, { logger: createLogger('info', sink), maxBodyBytes: settings.maxBodyBytes, allowedHosts: options.allowedHosts });
  const server = createHttpServer(app, settings).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  return { server, port, base: `http://127.0.0.1:${port}`, logs };
}

/**
 * Raw bytes on a fresh connection: `head` is sent at once, then `then(received, socket)` runs on each chunk
 * received (to send more); resolves with everything received once the server closes, or after `timeoutMs`.
 */
function exchange(port: number, head: string, options: { timeoutMs?: number; then?: (received: string, write: (s: string) => void) => void } = {}): Promise<{ received: string; closed: boolean; ms: number }> {
  return new Promise((resolveExchange) => {
    const started = performance.now();
    let received = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolveExchange({ received, closed, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 3000);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      options.then?.(received, (s) => socket.write(s));
    });
    socket.on('end', () => finish(true));
    socket.on('error', () => finish(true));
  });
}

/** The JSON body of a raw HTTP/1.1 answer. */
function jsonBody(raw: string): ErrorBody {
  return JSON.parse(raw.slice(raw.lastIndexOf('\r\n\r\n') + 4)) as ErrorBody;
}

const SIX_MB = 6 * 1024 * 1024;

describe('a body over the limit is refused on its headers', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => ({ server, port } = await serve()));
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('Expect: 100-continue with a 6 MB Content-Length: a JSON 413 at once, never "100 Continue"', async () => {
    const { received, closed, ms } = await exchange(port, 'POST /demonstrations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${SIX_MB}\r\nExpect: 100-continue\r\n\r\n`);
    expect(received).not.toContain('100 Continue');
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(received).toMatch(/\r\nconnection: close\r\n/i);
    expect(jsonBody(received).error).toEqual({ param: 'body', message: expect.stringMatching(/declares 6291456 bytes.*limit of 5242880 \(ERC_DEMOS_MAX_BODY_BYTES\)/) });
    expect(closed).toBe(true);
    expect(ms).toBeLessThan(1000);
  });

  it('any Content-Length over the limit: the 413 comes before a byte of the body is sent', async () => {
    const { received, closed, ms } = await exchange(port, `POST /prompts HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${SIX_MB}\r\n\r\n`);
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(jsonBody(received).error.param).toBe('body');
    expect([closed, ms < 1000]).toEqual([true, true]);
  });

  it('Expect: 100-continue within the limit: "100 Continue" once the body is wanted, then the answer', async () => {
    const body = JSON.stringify({ queries: [{ utterance: 'I am so happy!', k: 2 }] });
    let sent = false;
    const { received } = await exchange(port, 'POST /demonstrations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`, {
      then: (got, write) => {
        if (!sent && got.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
          sent = true;
          write(body);
        }
      },
    });
    expect(received).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(received).toContain('"results":[');
  });

  it('an expectation other than 100-continue is a JSON 417 naming expect', async () => {
    const { received } = await exchange(port, 'POST /demonstrations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nExpect: 200-ok\r\n\r\n');
    expect(received).toMatch(/^HTTP\/1\.1 417 /);
    expect(jsonBody(received).error.param).toBe('expect');
  });
});

describe('Host', () => {
  let server: Server;
  let port: number;
  let base: string;
  let logs: Record<string, unknown>[];
  beforeAll(async () => ({ server, port, base, logs } = await serve()));
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('an HTTP/1.1 request without Host: a JSON 400 naming host, logged; HTTP/1.0 needs none', async () => {
    const { received } = await exchange(port, 'GET /healthz HTTP/1.1\r\nX-Request-Id: no-host-1\r\n\r\n');
    expect(received).toMatch(/^HTTP\/1\.1 400 /);
    expect(received).toMatch(/content-type: application\/json/i);
    expect(jsonBody(received).error).toEqual({ param: 'host', message: expect.stringMatching(/Host header is required in HTTP\/1\.1/) });
    await new Promise((r) => setTimeout(r, 50));
    expect(logs.find((l) => (l.req as { id?: string } | undefined)?.id === 'no-host-1')).toMatchObject({ req: { method: 'GET', path: '/healthz' }, res: { status: 400 } });
    const old = await exchange(port, 'GET /healthz HTTP/1.0\r\n\r\n');
    expect(old.received).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('bound to loopback, by default only the loopback names are answered (any port): another Host is a JSON 421 naming host', async () => {
    for (const host of ['localhost', 'localhost:8080', 'LOCALHOST.', '127.0.0.1', '127.0.0.1:1', '[::1]', '[::1]:8080']) {
      const { received } = await exchange(port, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect([host, received.slice(0, 15)]).toEqual([host, 'HTTP/1.1 200 OK']);
    }
    for (const host of ['evil.example', 'evil.example:8080', 'localhost.evil.example', '127.0.0.1.nip.io', '10.0.0.1', 'localhost:80@evil', '']) {
      const { received } = await exchange(port, `GET /demonstrations?utterance=hi HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      expect([host, received.slice(0, 13)]).toEqual([host, 'HTTP/1.1 421 ']);
      expect(jsonBody(received).error).toEqual({ param: 'host', message: expect.stringMatching(/does not answer to .*ERC_DEMOS_ALLOWED_HOSTS/) });
    }
    // fetch sends 127.0.0.1:<port>, as every test that binds loopback does.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('ERC_DEMOS_ALLOWED_HOSTS: auto (loopback names on a loopback bind, any otherwise), * or a list of names', async () => {
    expect(settingsFromEnv({}).allowedHosts).toBe('auto');
    expect(() => settingsFromEnv({ ERC_DEMOS_ALLOWED_HOSTS: 'a b' })).toThrow(/ERC_DEMOS_ALLOWED_HOSTS=a b: must be auto, \* or a comma-separated list of host names/);
    expect(allowedHosts('auto', '0.0.0.0')).toEqual({ any: true });
    expect(allowedHosts('auto', '::')).toEqual({ any: true });
    expect(allowedHosts('*', '127.0.0.1')).toEqual({ any: true });
    expect(allowedHosts('auto', '127.0.0.1')).toEqual({ any: false, names: new Set(['localhost', '127.0.0.1', '[::1]']) });
    expect(allowedHosts('auto', '127.0.0.2')).toEqual({ any: false, names: new Set(['localhost', '127.0.0.1', '[::1]', '127.0.0.2']) });
    expect(allowedHosts('erc.example.org, Other.Example.', '0.0.0.0')).toEqual({ any: false, names: new Set(['localhost', '127.0.0.1', '[::1]', 'erc.example.org', 'other.example']) });
    expect([isLoopbackHost('localhost'), isLoopbackHost('::1'), isLoopbackHost('127.9.9.9'), isLoopbackHost('0.0.0.0'), isLoopbackHost('192.168.1.2')]).toEqual([true, true, true, false, false]);
    expect([hostName('Example.org:80'), hostName('[::1]:8080'), hostName('a@b'), hostName('a:b')]).toEqual(['example.org', '[::1]', null, null]);
    const listed = await serve({ allowedHosts: allowedHosts('erc.example.org', '0.0.0.0') });
    try {
      const ok = await exchange(listed.port, 'GET /healthz HTTP/1.1\r\nHost: erc.example.org:8080\r\nConnection: close\r\n\r\n');
      expect(ok.received).toMatch(/^HTTP\/1\.1 200 /);
      const other = await exchange(listed.port, 'GET /healthz HTTP/1.1\r\nHost: evil.example\r\n\r\n');
      expect(other.received).toMatch(/^HTTP\/1\.1 421 /);
    } finally {
      await new Promise((r) => listed.server.close(r));
    }
    const any = await serve({ allowedHosts: allowedHosts('auto', '0.0.0.0') });
    try {
      expect((await exchange(any.port, 'GET /healthz HTTP/1.1\r\nHost: whatever.example\r\nConnection: close\r\n\r\n')).received).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      await new Promise((r) => any.server.close(r));
    }
  });
});

describe('characters are code points', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => ({ server, base } = await serve()));
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const emoji = (n: number) => '😀'.repeat(n);
  const post = (path: string, body: unknown) => fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('counts an emoji as one character', () => {
    expect([charCount(emoji(3)), charCount('a😀b'), charCount('\ud83d'), charCount('é'), charCount('')]).toEqual([3, 3, 1, 1, 0]);
  });

  it('2000 emoji pass as an utterance (GET, POST, a prompt turn); 2001 are a 400 naming it', async () => {
    const get = (n: number) => fetch(`${base}/demonstrations?k=1&utterance=${encodeURIComponent(emoji(n))}`);
    expect((await get(2000)).status).toBe(200);
    const over = await get(2001);
    expect([over.status, ((await over.json()) as ErrorBody).error]).toEqual([400, { param: 'utterance', message: 'utterance: must be at most 2000 characters' }]);
    expect((await post('/demonstrations', { queries: [{ utterance: emoji(2000), k: 1 }, { utterance: 'hi', k: 1 }] })).status).toBe(200);
    const overPost = await post('/demonstrations', { queries: [{ utterance: emoji(2001) }] });
    expect([overPost.status, ((await overPost.json()) as ErrorBody).error.param]).toEqual([400, 'queries.0.utterance']);
    const prompt = (n: number) => post('/prompts', { format: 'instructerc', dialogue: { turns: [{ speaker: 'A', text: emoji(n) }] }, target: 0, options: { k: 1 } });
    expect((await prompt(2000)).status).toBe(200);
    const overPrompt = await prompt(2001);
    expect([overPrompt.status, ((await overPrompt.json()) as ErrorBody).error.param]).toEqual([400, 'dialogue.turns.0.text']);
  });

  it('the characters of a request are counted the same way (ERC_DEMOS_MAX_REQUEST_CHARS)', async () => {
    const tight = await DemoService.load([indexDir], { settings: { ...DEFAULT_SETTINGS, maxRequestChars: 3000 } });
    const small = await serve({ with: tight });
    try {
      const send = (n: number) => fetch(`${small.base}/demonstrations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ queries: [{ utterance: emoji(2000), k: 1 }, { utterance: emoji(n), k: 1 }] }) });
      expect((await send(1000)).status).toBe(200);
      const over = await send(1001);
      expect([over.status, ((await over.json()) as ErrorBody).error.message]).toEqual([400, "queries: hold 3001 characters in all, over this service's limit of 3000 (ERC_DEMOS_MAX_REQUEST_CHARS)"]);
    } finally {
      await new Promise((r) => small.server.close(r));
      await tight.close();
    }
  });

  it('a rendered prompt is measured in code points too (ERC_DEMOS_MAX_PROMPT_CHARS)', () => {
    expect(fill('{history}', { history: emoji(10) }, 't', 10)).toBe(emoji(10));
    expect(() => fill('{history}', { history: emoji(11) }, 't', 10)).toThrow(/would render 11 characters/);
  });
});

describe('templates: every {...} is a known placeholder, {{ and }} are literal braces', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => ({ server, base } = await serve()));
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const prompt = (format: unknown) => fetch(`${base}/prompts`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ format, dialogue: { turns: [{ speaker: 'B', text: 'Oh my God!' }] }, target: 0, options: { k: 0 } }),
  });

  it('{__proto__}, {toString}, {Label}, {constructor} and braces that open or close nothing are 400s naming the field and the text', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ template: '{__proto__} {history}' }, 'format.template', /unknown placeholder \{__proto__\}/],
      [{ template: '{toString}' }, 'format.template', /unknown placeholder \{toString\}/],
      [{ template: '{history} {Label}' }, 'format.template', /unknown placeholder \{Label\}.*known here: \{demonstrations\} \{history\}/],
      [{ template: '{constructor}' }, 'format.template', /unknown placeholder \{constructor\}/],
      [{ template: '{history}', answer: '{label} {empathy_level}' }, 'format.answer', /unknown placeholder \{empathy_level\}/],
      [{ template: '{history}', turn: '{speaker} {Text}' }, 'format.turn', /unknown placeholder \{Text\}/],
      [{ template: '{history}', demo: { item: '{text} -> {lable}' } }, 'format.demo.item', /unknown placeholder \{lable\}/],
      [{ template: '{history}', demo: { block: '{example}' } }, 'format.demo.block', /unknown placeholder \{example\}/],
      [{ template: 'JSON: {"a": 1} {history}' }, 'format.template', /unknown placeholder \{"a": 1\}.*write \{\{ for a literal \{/],
      [{ template: '{history} {' }, 'format.template', /a "\{" at character 11 opens no placeholder/],
      [{ template: '{history} }' }, 'format.template', /a "\}" at character 11 closes no placeholder/],
    ];
    for (const [fields, param, message] of cases) {
      const res = await prompt({ name: 'mine', ...fields });
      const body = (await res.json()) as ErrorBody;
      expect([JSON.stringify(fields), res.status, body.error.param]).toEqual([JSON.stringify(fields), 400, param]);
      expect(body.error.message).toMatch(message);
    }
  });

  it('{{ and }} write literal braces: {{history}} is the text {history}', async () => {
    const res = await prompt({ name: 'escaped', template: '{{history}} [{history}] {{"json": true}}', answer: '{{{label}}}' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { prompt: string }).prompt).toBe('{history} [B: Oh my God!] {"json": true}');
    expect(PromptFormatSchema.parse({ name: 'ok', template: '{{{history}}}' }).template).toBe('{{{history}}}');
  });

  it('a 1 MB template over the prompt limit is a 400 naming the format field, not options.window', async () => {
    const res = await prompt({ name: 'big', template: `${'x'.repeat(1_000_000)}{history}` });
    const body = (await res.json()) as ErrorBody;
    expect([res.status, body.error.param]).toEqual([400, 'format.template']);
    expect(body.error.message).toMatch(/would render 1000013 characters, over this service's limit of 200000 \(ERC_DEMOS_MAX_PROMPT_CHARS\); its own text is 1000000 characters/);
    const turn = await prompt({ name: 'bigturn', template: '{history}', turn: `${'y'.repeat(300_000)}{text}` });
    expect([turn.status, ((await turn.json()) as ErrorBody).error.param]).toEqual([400, 'format.turn']);
  });
});
