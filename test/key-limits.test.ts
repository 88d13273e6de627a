import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { currentTenant } from '../src/embed/tenant.js';
import { newKey } from '../src/keys/file.js';
import { RateLimiter } from '../src/keys/rate.js';
import { ApiKeys } from '../src/keys/ring.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { createApp } from '../src/server/app.js';
import { parseCorsOrigins } from '../src/server/cors.js';
import { createHttpServer } from '../src/server/http-server.js';
import { DemoService } from '../src/service/service.js';
import { MAIN_THREAD } from '../src/service/yield.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { BIN, cliAsync, tempDir } from './helpers.js';

/**
 * Issue 25, the rest of it: per-key rate limits (429 with Retry-After, other keys untouched), /metrics by key name,
 * CORS only for the origins a setting names, and each request's work shared as its key's (the fair scheduler's
 * tenant), all against a real `serve` on loopback, or the real app on a loopback HTTP server.
 */

const dir = tempDir('erc-key-limits-');
const index = join(dir, 'a');
const APP_ORIGIN = 'https://app.example.org';

interface Served { child: ChildProcess; url: string; output: () => string; exited: Promise<unknown> }

function serve(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Served> {
  return new Promise((resolveStart, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ERC_DEMOS_EMBED_THREADS: '1', ...env } });
    let output = '';
    const exited = once(child, 'exit');
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(output);
      if (m) resolveStart({ child, url: `http://127.0.0.1:${m[1]}`, output: () => output, exited });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(([code]) => reject(new Error(`serve exited (${String(code)}): ${output}`)));
  });
}

beforeAll(async () => {
  const built = await cliAsync(['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--projection', 'none', '--out', index, '--name', 'a']);
  expect(built.code, built.stderr).toBe(0);
}, 180_000);

describe('the token bucket', () => {
  it('lets a burst through, then one request per 1/per_second, and says when in whole seconds', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    const rate = { perSecond: 0.5, burst: 2 };
    expect(limiter.take('k', rate)).toEqual({ ok: true });
    expect(limiter.take('k', rate)).toEqual({ ok: true });
    expect(limiter.take('k', rate)).toEqual({ ok: false, retryAfterS: 2 }); // a token every 2 s
    now = 1500;
    expect(limiter.take('k', rate)).toEqual({ ok: false, retryAfterS: 1 }); // 0.75 of a token: 0.5 s more, said as 1
    now = 2000;
    expect(limiter.take('k', rate)).toEqual({ ok: true });
    expect(limiter.take('other', rate)).toEqual({ ok: true }); // a bucket per key name
    now = 1e9;
    expect(limiter.take('k', rate)).toEqual({ ok: true }); // never more than the burst saved up
    expect(limiter.take('k', rate)).toEqual({ ok: true });
    expect(limiter.take('k', rate)).toMatchObject({ ok: false });
  });
});

describe('erc-demos serve with rates, per-key metrics and CORS', () => {
  const slow = newKey('slow', 'read').key;
  const free = newKey('free', 'read').key;
  const narrow = newKey('narrow', 'read').key;
  const file = join(dir, 'keys.json');
  const texts: string[] = [];
  let served: Served;

  const call = async (path: string, key?: string, init: RequestInit & { headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${served.url}${path}`, { ...init, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...init.headers } });
    const text = await res.text();
    texts.push(text, JSON.stringify([...res.headers]));
    return { res, text };
  };

  beforeAll(async () => {
    writeFileSync(file, JSON.stringify({ keys: [
      { name: 'slow', scope: 'read', key: slow, rate: { per_second: 1, burst: 3 } },
      { name: 'free', scope: 'read', key: free },
      { name: 'narrow', scope: 'read', key: narrow, indexes: ['elsewhere'] },
    ] }));
    served = await serve(['--index', index, '--port', '0', '--keys', file], { ERC_DEMOS_CORS_ORIGINS: `${APP_ORIGIN}, http://localhost:3000` });
  }, 60_000);
  afterAll(async () => {
    if (!served) return;
    served.child.kill('SIGTERM');
    await served.exited;
  });

  it('a key over its rate gets a JSON 429 naming the limit with Retry-After; another key is not affected', async () => {
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push((await call('/demonstrations?utterance=hello&k=1', slow)).res.status);
    expect(answers.slice(0, 3)).toEqual([200, 200, 200]); // the burst
    expect(answers.slice(3)).toContain(429);
    const refused = await call('/demonstrations?utterance=hello&k=1', slow);
    expect(refused.res.status).toBe(429);
    const retryAfter = refused.res.headers.get('retry-after');
    expect(retryAfter).toMatch(/^[1-9]\d*$/);
    expect(JSON.parse(refused.text)).toEqual({ error: { param: 'authorization', message: `the key "slow" is over its rate limit of 1 requests per second (burst 3, the keys file's "rate"): retry after ${retryAfter} s` } });
    // Another key, at the same moment: all through.
    for (let i = 0; i < 8; i++) expect((await call('/demonstrations?utterance=hello&k=1', free)).res.status).toBe(200);
    // A POST over the rate is refused before its body is read, and its connection closed.
    const post = await call('/demonstrations', slow, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ queries: [{ utterance: 'x' }] }) });
    expect(post.res.status).toBe(429);
    expect(post.res.headers.get('connection')).toBe('close');
    // After the wait it says, the key is served again.
    await new Promise((r) => setTimeout(r, Number(retryAfter) * 1000 + 50));
    expect((await call('/demonstrations?utterance=hello&k=1', slow)).res.status).toBe(200);
  }, 20_000);

  it('/metrics counts requests, 401/403 refusals and 429s by key name, anonymous as "anonymous", never a key', async () => {
    expect((await call('/indexes')).res.status).toBe(401);
    expect((await call('/indexes', 'not-a-key-of-this-service-at-all')).res.status).toBe(401);
    expect((await call('/demonstrations?utterance=hello', narrow)).res.status).toBe(403);
    const { res, text } = await call('/metrics', free);
    expect(res.status).toBe(200);
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    expect(value('erc_demos_key_requests_total{key="slow"}')).toBeGreaterThanOrEqual(8);
    expect(value('erc_demos_key_requests_total{key="free"}')).toBeGreaterThanOrEqual(8);
    expect(value('erc_demos_key_rate_limited_total{key="slow"}')).toBeGreaterThanOrEqual(3);
    expect(text).not.toMatch(/erc_demos_key_rate_limited_total\{key="free"\}/);
    expect(value('erc_demos_key_refusals_total{key="anonymous",status="401"}')).toBeGreaterThanOrEqual(2);
    expect(value('erc_demos_key_refusals_total{key="narrow",status="403"}')).toBe(1);
  });

  it('answers the preflight of a named origin (Authorization allowed) and no other; answers carry the origin', async () => {
    const preflight = (origin: string) => call('/demonstrations', undefined, {
      method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    const allowed = await preflight(APP_ORIGIN);
    expect(allowed.res.status).toBe(204);
    expect(allowed.res.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(allowed.res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(allowed.res.headers.get('access-control-allow-credentials')).toBeNull(); // no cookies
    expect((await preflight('http://localhost:3000')).res.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    const other = await preflight('https://evil.example.com');
    expect(other.res.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.res.status).not.toBe(204);
    const get = await call('/demonstrations?utterance=hello&k=1', free, { headers: { origin: APP_ORIGIN } });
    expect(get.res.status).toBe(200);
    expect(get.res.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(get.res.headers.get('access-control-expose-headers')).toContain('Retry-After');
    expect((await call('/demonstrations?utterance=hello&k=1', free, { headers: { origin: 'https://evil.example.com' } })).res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('no key value in any answer, header or log line', () => {
    const everything = `${served.output()}\n${texts.join('\n')}`;
    for (const key of [slow, free, narrow]) expect(everything).not.toContain(key);
  });
});

describe('CORS off by default, and the setting checked', () => {
  it('without ERC_DEMOS_CORS_ORIGINS no preflight is answered and no answer names an origin', async () => {
    const service = await DemoService.load([index]);
    const server = createHttpServer(createApp(service), DEFAULT_SETTINGS).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const pre = await fetch(`${url}/demonstrations`, { method: 'OPTIONS', headers: { origin: APP_ORIGIN, 'access-control-request-method': 'GET' } });
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
      const get = await fetch(`${url}/demonstrations?utterance=hi&k=1`, { headers: { origin: APP_ORIGIN } });
      expect(get.status).toBe(200);
      expect(get.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      server.close();
      await service.close();
    }
  });

  it('an origin with a path or a trailing slash is refused naming the setting', () => {
    expect(parseCorsOrigins('')).toEqual([]);
    expect(parseCorsOrigins(' https://a.example , http://localhost:3000')).toEqual(['https://a.example', 'http://localhost:3000']);
    expect(() => parseCorsOrigins('https://a.example/')).toThrow(/ERC_DEMOS_CORS_ORIGINS: "https:\/\/a.example\/" is not an origin as a browser sends it; write "https:\/\/a.example"/);
    expect(() => parseCorsOrigins('nonsense')).toThrow(/ERC_DEMOS_CORS_ORIGINS: "nonsense" is not an origin/);
  });
});

describe('each request\'s work runs as its key\'s tenant', () => {
  it('the service\'s share of the main thread is joined as key:<name>, or address:<ip> without a key', async () => {
    const keyFile = join(dir, 'tenant-keys.json');
    const reader = newKey('reader', 'read').key;
    writeFileSync(keyFile, JSON.stringify({ keys: [{ name: 'reader', scope: 'read', key: reader }] }));
    const service = await DemoService.load([index]);
    const seen: (string | undefined)[] = [];
    const realJoin = MAIN_THREAD.join.bind(MAIN_THREAD);
    const spy = vi.spyOn(MAIN_THREAD, 'join').mockImplementation((signal, tenant) => {
      seen.push(currentTenant());
      return realJoin(signal, tenant);
    });
    const server = createHttpServer(createApp(service, { keys: new ApiKeys({ file: keyFile, allowAnonymous: true }) }), DEFAULT_SETTINGS).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const auth = { authorization: `Bearer ${reader}` };
      expect((await fetch(`${url}/demonstrations?utterance=hi&k=1`, { headers: auth })).status).toBe(200);
      const batch = await fetch(`${url}/demonstrations`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ queries: [{ utterance: 'a' }, { utterance: 'b' }] }) });
      expect(batch.status).toBe(200);
      await batch.text();
      expect((await fetch(`${url}/demonstrations?utterance=hi&k=1`)).status).toBe(200);
      expect(seen).toEqual(['key:reader', 'key:reader', 'address:127.0.0.1']);
      // A library caller, outside any request: no tenant (a share of its own), as before.
      seen.length = 0;
      await service.demonstrations({ utterance: 'hi', k: 1 } as Parameters<typeof service.demonstrations>[0]);
      expect(seen).toEqual([undefined]);
    } finally {
      spy.mockRestore();
      server.close();
      await service.close();
    }
  });
});
