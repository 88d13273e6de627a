import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { answerError, createApp } from '../src/server/app.js';
import { DemoService } from '../src/service/service.js';
import { authenticate, requireScope } from '../src/keys/auth.js';
import { MIN_KEY_CHARS, newKey, parseKeysFile, readKeysFile } from '../src/keys/file.js';
import { ApiKeys, KeyRing } from '../src/keys/ring.js';
import { BIN, cli, cliAsync, tempDir } from './helpers.js';

/**
 * Issue 25: API keys with scopes. The keys file, the lookup, `erc-demos keys new`, and a real `serve` with a keys
 * file: 401 for no key or a wrong one, 403 for another index, a key revoked by editing the file and SIGHUP, the key
 * never in any output; requireScope('write') on a write route; the refusal to serve off loopback without keys.
 */

const dir = tempDir('erc-keys-');
const sha = (key: string) => createHash('sha256').update(key).digest('hex');

interface ErrorBody { error: { param: string | null; message: string } }

/** A serve process with its stdout (the JSON request log) and stderr captured. */
interface Served {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

function serve(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  return new Promise((resolveStart, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ERC_DEMOS_EMBED_THREADS: '1', ...env } });
    let output = '';
    const exited = once(child, 'exit').then(([code]) => code as number | null);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(output);
      if (m) resolveStart({ child, url: `http://127.0.0.1:${m[1]}`, output: () => output, exited });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`serve exited (${code}): ${output}`)));
  });
}

async function stop(served: Served): Promise<void> {
  served.child.kill('SIGTERM');
  await served.exited;
}

/** Resolves once the output has `pattern` `count` times. */
async function waitFor(served: Served, pattern: RegExp, count = 1, ms = 30_000): Promise<void> {
  const started = Date.now();
  while ((served.output().match(new RegExp(pattern.source, 'g'))?.length ?? 0) < count) {
    if (Date.now() - started > ms) throw new Error(`waited for ${pattern}: ${served.output().slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const a = join(dir, 'a');
const b = join(dir, 'b');

beforeAll(async () => {
  const built = await Promise.all(['a', 'b'].map((name) =>
    cliAsync(['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--projection', 'none', '--out', join(dir, name), '--name', name])));
  for (const run of built) expect(run.code, run.stderr).toBe(0);
}, 180_000);

describe('the keys file', () => {
  const good = 'k'.repeat(MIN_KEY_CHARS);

  it('reads keys given as a hash or as themselves (hashed, the key not kept), with indexes and rate', () => {
    const keys = parseKeysFile('keys.json', JSON.stringify({ keys: [
      { name: 'trainer', scope: 'read', sha256: sha('x'.repeat(43)).toUpperCase() },
      { name: 'ops', scope: 'write', key: good, indexes: ['meld'], rate: { per_second: 20, burst: 40 } },
    ] }));
    expect(keys.map((k) => [k.name, k.scope, k.sha256.toString('hex')])).toEqual([['trainer', 'read', sha('x'.repeat(43))], ['ops', 'write', sha(good)]]);
    expect([...keys[1].indexes!]).toEqual(['meld']);
    expect(keys[1].rate).toEqual({ perSecond: 20, burst: 40 });
    expect(JSON.stringify(keys)).not.toContain(good);
    const ring = new KeyRing(keys);
    expect(ring.find(good)?.name).toBe('ops');
    expect(ring.find('x'.repeat(43))?.name).toBe('trainer');
    expect(ring.find(`${good}x`)).toBeUndefined();
    expect(ring.find('')).toBeUndefined();
  });

  it('refuses a malformed file naming the file and the field, never quoting a key', () => {
    const secret = 'S3cretS3cretS3cretS3cretS3cret';
    const refusal = (value: unknown) => {
      try {
        parseKeysFile('/etc/erc/keys.json', typeof value === 'string' ? value : JSON.stringify(value));
      } catch (error) {
        expect((error as Error & { code: string }).code).toBe('KEYS_FILE_INVALID');
        expect((error as Error).message).not.toContain(secret);
        return (error as Error).message;
      }
      throw new Error('not refused');
    };
    expect(refusal({ keys: [{ name: 'a', scope: 'admin', key: secret }] })).toMatch(/^keys file \/etc\/erc\/keys\.json: keys\.0\.scope: must be "read" or "write"/);
    expect(refusal({ keys: [{ name: 'a', scope: 'read', key: 'short' }] })).toMatch(/keys\.0\.key: is 5 characters; a key must have at least 22/);
    expect(refusal({ keys: [{ name: 'a', scope: 'read', key: `${secret} x` }] })).toMatch(/keys\.0\.key: must be letters, digits/);
    expect(refusal({ keys: [{ name: 'a', scope: 'read', key: secret, sha256: sha(secret) }] })).toMatch(/keys\.0: give the key as "sha256" .* one of them/);
    expect(refusal({ keys: [{ name: 'a', scope: 'read' }] })).toMatch(/keys\.0: give the key/);
    expect(refusal({ keys: [{ name: 'a', scope: 'read', key: secret }, { name: 'a', scope: 'read', key: `${secret}2` }] })).toMatch(/keys\.1\.name: "a" is the name of an earlier key/);
    expect(refusal({ keys: [{ name: 'a', scope: 'read', key: secret }, { name: 'b', scope: 'read', sha256: sha(secret) }] })).toMatch(/keys\.1: is the same key as "a"/);
    expect(refusal({ keys: [{ name: 'a', scope: 'read', key: secret, scopes: ['x'] }] })).toMatch(/keys\.0: .*scopes/);
    expect(refusal({ keys: [{ name: 'a', scope: 'read', key: secret, indexes: [] }] })).toMatch(/keys\.0\.indexes: must name at least one index/);
    expect(refusal({ keys: [{ name: 'a', scope: 'read', key: secret, rate: { per_second: 0, burst: 1 } }] })).toMatch(/keys\.0\.rate\.per_second: must be above 0/);
    expect(refusal({ keys: [{ name: 'a b', scope: 'read', key: secret }] })).toMatch(/keys\.0\.name: must be 1 to 64 letters/);
    expect(refusal({ keys: [{ name: 'a', scope: 'read', sha256: 'abc' }] })).toMatch(/keys\.0\.sha256: must be the 64 hex digits/);
    expect(refusal({ key: [] })).toMatch(/keys file \/etc\/erc\/keys\.json: /);
    // JSON.parse's own message quotes the text around the fault (which may be a key): only the place is given.
    expect(refusal(`{"keys": [{"name": "a", "scope": "read", "key": "${secret}" "x"}]}`)).toMatch(/is not valid JSON( \(at line 1, column \d+\))?$/);
    expect(() => readKeysFile(join(dir, 'none.json'))).toThrow(/keys file .*none\.json: cannot be read \(ENOENT/);
  });

  it('erc-demos keys new prints a 256-bit key alone on its first line, then the entry with its hash', () => {
    const run = cli(['keys', 'new', '--name', 'ops', '--scope', 'write', '--index', 'a', '--index', 'b']);
    expect(run.code, run.stderr).toBe(0);
    const [key, entry, ...rest] = run.stdout.split('\n');
    expect(rest).toEqual(['']);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key, 'base64url')).toHaveLength(32);
    expect(JSON.parse(entry)).toEqual({ name: 'ops', scope: 'write', sha256: sha(key), indexes: ['a', 'b'] });
    expect(entry).not.toContain(key);
    const entries = parseKeysFile('k.json', JSON.stringify({ keys: [JSON.parse(entry)] }));
    expect(new KeyRing(entries).find(key)?.name).toBe('ops');
    expect(newKey('x', 'read').key).not.toBe(newKey('x', 'read').key);
    expect(cli(['keys', 'new', '--name', 'x', '--scope', 'admin']).code).toBe(2);
    expect(cli(['keys', 'new', '--name', 'a b', '--scope', 'read']).code).toBe(2);
  });
});

describe('requireScope, on a write route', () => {
  const readKey = 'r'.repeat(30);
  const writeKey = 'w'.repeat(30);
  const file = join(dir, 'scope-keys.json');

  /** A route that writes, behind the real middleware and the app's error answers. */
  async function writeRoute(keys: ApiKeys): Promise<{ url: string; close: () => void }> {
    const app = express();
    app.use(authenticate(keys));
    app.post('/write', requireScope('write'), (_req, res) => void res.json({ written: true }));
    app.use(answerError);
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/write`, close: () => server.close() };
  }

  const post = async (url: string, key?: string) => {
    const res = await fetch(url, { method: 'POST', headers: key ? { authorization: `Bearer ${key}` } : {} });
    return { status: res.status, challenge: res.headers.get('www-authenticate'), body: (await res.json()) as ErrorBody };
  };

  it('a read key gets a 403 naming the scope, a write key passes, anonymous never writes', async () => {
    writeFileSync(file, JSON.stringify({ keys: [{ name: 'reader', scope: 'read', key: readKey }, { name: 'writer', scope: 'write', key: writeKey }] }));
    const withKeys = await writeRoute(new ApiKeys({ file }));
    const anonymousAllowed = await writeRoute(new ApiKeys({ file, allowAnonymous: true }));
    const noKeys = await writeRoute(new ApiKeys());
    try {
      const read = await post(withKeys.url, readKey);
      expect(read.status).toBe(403);
      expect(read.body.error).toEqual({ param: 'authorization', message: 'the key "reader" has scope "read"; this route needs scope "write"' });
      expect(read.challenge).toBe('Bearer realm="erc-demos", error="insufficient_scope", scope="write"');
      expect(await post(withKeys.url, writeKey)).toMatchObject({ status: 200, body: { written: true } });
      for (const url of [withKeys.url, anonymousAllowed.url, noKeys.url]) {
        const anonymous = await post(url);
        expect(anonymous.status).toBe(401);
        expect(anonymous.body.error.param).toBe('authorization');
        expect(anonymous.challenge).toMatch(/^Bearer realm="erc-demos"/);
      }
      expect((await post(anonymousAllowed.url)).body.error.message).toMatch(/writes are never anonymous/);
      expect(await post(anonymousAllowed.url, writeKey)).toMatchObject({ status: 200 });
      expect((await post(withKeys.url, 'x'.repeat(30))).status).toBe(401);
    } finally {
      withKeys.close();
      anonymousAllowed.close();
      noKeys.close();
    }
  });
});

describe('erc-demos serve with a keys file', () => {
  const trainer = newKey('trainer', 'read').key; // given in the file by its hash
  const ops = newKey('ops', 'write').key; // given in the file as itself, limited to index a
  const other = newKey('other', 'read').key; // never in the file
  const file = join(dir, 'keys.json');
  const bodies: string[] = [];
  let served: Served;

  const keysFile = (entries: object[]) => writeFileSync(file, JSON.stringify({ keys: entries }, null, 2));
  const trainerEntry = { name: 'trainer', scope: 'read', sha256: sha(trainer) };
  const opsEntry = { name: 'ops', scope: 'write', key: ops, indexes: ['a'], rate: { per_second: 20, burst: 40 } };

  async function call(path: string, key?: string, init: RequestInit = {}): Promise<{ status: number; challenge: string | null; body: ErrorBody & Record<string, unknown>; text: string }> {
    const headers: Record<string, string> = { ...(init.body ? { 'content-type': 'application/json' } : {}), ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}) };
    const res = await fetch(`${served.url}${path}`, { ...init, headers });
    const text = await res.text();
    bodies.push(text, JSON.stringify([...res.headers]));
    return { status: res.status, challenge: res.headers.get('www-authenticate'), body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : {}, text };
  }

  beforeAll(async () => {
    keysFile([trainerEntry, opsEntry]);
    served = await serve(['--index', a, '--index', b, '--port', '0', '--keys', file]);
  }, 60_000);
  afterAll(async () => {
    if (served) await stop(served);
  });

  it('answers a request without a key, or with a wrong or malformed one, 401 with the Bearer challenge', async () => {
    const none = await call('/demonstrations?utterance=hello&index=a');
    expect(none.status).toBe(401);
    expect(none.challenge).toBe('Bearer realm="erc-demos"');
    expect(none.body).toEqual({ error: { param: 'authorization', message: 'this service needs a key: send the header Authorization: Bearer <key>' } });
    const wrong = await call('/demonstrations?utterance=hello&index=a', other);
    expect(wrong.status).toBe(401);
    expect(wrong.challenge).toBe('Bearer realm="erc-demos", error="invalid_token"');
    expect(wrong.body.error).toEqual({ param: 'authorization', message: 'the key given is not a key of this service (mistyped, revoked, or for another service)' });
    const prefix = await call('/demonstrations?utterance=hello&index=a', trainer.slice(0, -1));
    expect(prefix.status).toBe(401);
    const basic = await fetch(`${served.url}/indexes`, { headers: { authorization: `Basic ${Buffer.from(`u:${trainer}`).toString('base64')}` } });
    expect(basic.status).toBe(401);
    expect(((await basic.json()) as ErrorBody).error.param).toBe('authorization');
    // Every route behind the key, unknown ones too; a POST's body is not read before the key.
    for (const path of ['/indexes', '/formats', '/openapi.json', '/metrics', '/nowhere']) expect((await call(path)).status, path).toBe(401);
    expect((await call('/demonstrations', undefined, { method: 'POST', body: JSON.stringify({ queries: [{ utterance: 'x' }] }) })).status).toBe(401);
    // Health and the page's own files answer without one.
    expect(await call('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } }); // no index names without a key
    expect((await call('/healthz')).body).not.toHaveProperty('indexes');
    expect((await call('/')).status).toBe(200);
    expect((await call('/page.js')).status).toBe(200);
  });

  it('lets a read key use every index and route; a key limited to an index gets a 403 naming the parameter for another', async () => {
    expect((await call('/demonstrations?utterance=hello&index=b&k=2', trainer)).status).toBe(200);
    expect(((await call('/indexes', trainer)).body.indexes as { name: string }[]).map((i) => i.name)).toEqual(['a', 'b']);
    expect((await call('/metrics', trainer)).text).toContain('erc_demos_http_requests_total');
    expect((await call('/demonstrations?utterance=hello&index=a&k=2', ops)).status).toBe(200);
    const get = await call('/demonstrations?utterance=hello&index=b', ops);
    expect(get.status).toBe(403);
    expect(get.body).toEqual({ error: { param: 'index', message: 'the key "ops" may not use index "b"; it may use: a' } });
    const batch = await call('/demonstrations', ops, { method: 'POST', body: JSON.stringify({ queries: [{ utterance: 'x', index: 'a' }, { utterance: 'y', index: ' b ' }] }) });
    expect(batch.status).toBe(403);
    expect(batch.body.error).toEqual({ param: 'queries.1.index', message: 'the key "ops" may not use index "b"; it may use: a' });
    const prompt = await call('/prompts', ops, { method: 'POST', body: JSON.stringify({ index: 'b', format: 'instructerc', dialogue: { turns: [{ speaker: 'A', text: 'Hi.' }] }, target: 0 }) });
    expect(prompt.status).toBe(403);
    expect(prompt.body.error.param).toBe('index');
    expect((await call('/prompts', ops, { method: 'POST', body: JSON.stringify({ index: 'a', format: 'instructerc', dialogue: { turns: [{ speaker: 'A', text: 'Hi.' }] }, target: 0 }) })).status).toBe(200);
    // No index named, several served: the 400 lists only the indexes the key may use.
    const unnamed = await call('/demonstrations?utterance=hello', ops);
    expect(unnamed.status).toBe(400);
    expect(unnamed.body.error).toEqual({ param: 'index', message: 'index: is required when several indexes are served (this key may use: a)' });
    // An index that is not served is refused like one that is, so a limited key learns nothing of others.
    expect((await call('/demonstrations?utterance=hello&index=secret', ops)).status).toBe(403);
    expect(((await call('/indexes', ops)).body.indexes as { name: string }[]).map((i) => i.name)).toEqual(['a']);
  });

  it('revokes a key removed from the file on SIGHUP; a broken file keeps the keys read before', async () => {
    keysFile([opsEntry]);
    served.child.kill('SIGHUP');
    await waitFor(served, /SIGHUP: keys reloaded: 1 key: ops/);
    const revoked = await call('/demonstrations?utterance=hello&index=a', trainer);
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.param).toBe('authorization');
    expect((await call('/demonstrations?utterance=hello&index=a', ops)).status).toBe(200);
    writeFileSync(file, `{"keys": [{"name": "ops", "scope": "write", "key": "${ops}", }]}`);
    served.child.kill('SIGHUP');
    await waitFor(served, /SIGHUP: keys file not reloaded, still using the keys read before: keys file .*keys\.json: is not valid JSON/);
    expect((await call('/demonstrations?utterance=hello&index=a', ops)).status).toBe(200);
    keysFile([trainerEntry, opsEntry]);
    served.child.kill('SIGHUP');
    await waitFor(served, /SIGHUP: keys reloaded: 2 keys/);
    expect((await call('/demonstrations?utterance=hello&index=b', trainer)).status).toBe(200);
  });

  it('logs the key name with each request and never a key, in any output or answer', async () => {
    await waitFor(served, /"key":"trainer"/);
    const lines = served.output().split('\n').filter((l) => l.startsWith('{'));
    expect(lines.some((l) => /"key":"ops".*"status":403/.test(l))).toBe(true);
    const everything = `${served.output()}\n${bodies.join('\n')}`;
    for (const key of [trainer, ops, other]) expect(everything).not.toContain(key);
    expect(everything.toLowerCase()).not.toContain('authorization":"bearer');
  });
});

describe('createApp with keys: /metrics public on request, anonymous reads beside keys', () => {
  it('ERC_DEMOS_METRICS_PUBLIC opens /metrics alone; --allow-anonymous with a keys file reads without a key, but a wrong key is still a 401', async () => {
    const key = 'm'.repeat(30);
    const file = join(dir, 'app-keys.json');
    writeFileSync(file, JSON.stringify({ keys: [{ name: 'reader', scope: 'read', key }] }));
    const service = await DemoService.load([a]);
    const listen = async (keys: ApiKeys) => {
      const server = createApp(service, { keys }).listen(0, '127.0.0.1');
      await once(server, 'listening');
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
    };
    const publicMetrics = await listen(new ApiKeys({ file, metricsPublic: true }));
    const anonymous = await listen(new ApiKeys({ file, allowAnonymous: true }));
    try {
      expect((await fetch(`${publicMetrics.url}/metrics`)).status).toBe(200);
      expect((await fetch(`${publicMetrics.url}/indexes`)).status).toBe(401);
      expect((await fetch(`${anonymous.url}/metrics`)).status).toBe(200); // anonymous may read, and metrics are a read
      expect((await fetch(`${anonymous.url}/demonstrations?utterance=hi&k=1`)).status).toBe(200);
      expect((await fetch(`${anonymous.url}/demonstrations?utterance=hi&k=1`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
      const wrong = await fetch(`${anonymous.url}/demonstrations?utterance=hi&k=1`, { headers: { authorization: `Bearer ${'x'.repeat(30)}` } });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="erc-demos", error="invalid_token"');
    } finally {
      publicMetrics.close();
      anonymous.close();
      await service.close();
    }
  });
});

describe('off loopback', () => {
  it('serve --host 0.0.0.0 without keys refuses to start, naming the two ways out', async () => {
    const run = await cliAsync(['serve', '--index', a, '--host', '0.0.0.0', '--port', '0'], 60_000, { ...process.env, ERC_DEMOS_ALLOW_ANONYMOUS: '0' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/refusing to serve on 0\.0\.0\.0 without API keys/);
    for (const way of ['--keys FILE', 'ERC_DEMOS_API_KEYS_FILE', 'erc-demos keys new', '--allow-anonymous', 'ERC_DEMOS_ALLOW_ANONYMOUS=1']) expect(run.stderr).toContain(way);
    expect(run.stderr).not.toMatch(/listening on/);
  });

  it('a broken keys file stops the start, naming the file and the field', async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify({ keys: [{ name: 'x', scope: 'root', sha256: sha('y') }] }));
    const run = await cliAsync(['serve', '--index', a, '--port', '0', '--keys', file], 60_000);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`erc-demos: keys file ${file}: keys.0.scope: must be "read" or "write"`);
  });

  it('with --allow-anonymous (or ERC_DEMOS_ALLOW_ANONYMOUS=1) it serves reads to anyone', async () => {
    for (const [args, env] of [[['--allow-anonymous'], {}], [[], { ERC_DEMOS_ALLOW_ANONYMOUS: '1' }]] as const) {
      const open = await serve(['--index', a, '--host', '0.0.0.0', '--port', '0', ...args], env);
      try {
        expect(open.output()).toMatch(/anonymous requests may read/);
        const res = await fetch(`${open.url}/demonstrations?utterance=hello&k=1`);
        expect(res.status).toBe(200);
      } finally {
        await stop(open);
      }
    }
  }, 60_000);
});
