import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, loopbackConfig, NGINX, startNginx } from './support/replicas-lib.js';
import { startServeProcess, type ServeProcess } from './support/serve-process.js';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import { buildIndex } from '../src/index/build.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { tempDir } from './helpers.js';

const BIN = resolve(__dirname, '..', 'bin', 'erc-demos.mjs');
if (!NGINX) console.warn('[erc-demos tests] nginx not found (apt-get install nginx): the replica failover test is skipped');

describe.skipIf(!NGINX)('two replicas behind the shipped nginx config, on loopback', () => {
  const dir = tempDir();
  const indexDir = join(dir, 'sample');
  let nginx: ChildProcess | undefined;
  const replicas: ServeProcess[] = [];

  beforeAll(async () => {
    const embedder = await createEmbedder('use-lite');
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out: indexDir, name: 'sample' });
  });
  afterAll(() => {
    nginx?.kill('SIGQUIT');
    for (const r of replicas) r.child.kill('SIGKILL');
  });

  const serve = (port: number) => startServeProcess([BIN, 'serve', '--index', indexDir, '--port', String(port)]);

  it('a replica stopped with SIGTERM mid-load costs zero failed requests, and takes traffic again once restarted', async () => {
    const [portA, portB, front] = [await freePort(), await freePort(), await freePort()];
    replicas.push(await serve(portA), await serve(portB));
    nginx = await startNginx(loopbackConfig([portA, portB], front, join(dir, 'nginx')), join(dir, 'nginx'), front);
    const base = `http://127.0.0.1:${front}`;

    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const texts = ['I am so happy!', 'Where were you?', 'That is disgusting.', 'Oh no, a spider!', 'Fine.', 'We won!'];
    const client = async (c: number) => {
      for (let i = c; !stop; i++) {
        try {
          const res = i % 5 === 0
            ? await fetch(`${base}/demonstrations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ queries: [{ utterance: texts[i % 6] }, { utterance: texts[(i + 1) % 6], k: 2 }] }) })
            : await fetch(`${base}/demonstrations?k=3&utterance=${encodeURIComponent(texts[i % 6])}`);
          await res.arrayBuffer();
          if (res.status === 200) ok += 1;
          else failures.push(`status ${res.status}`);
        } catch (error) {
          failures.push(String((error as Error).cause ?? error));
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, c) => client(c));
    await new Promise((r) => setTimeout(r, 1500));
    const beforeStop = ok;
    replicas[0].child.kill('SIGTERM');
    const exit = await replicas[0].exited;
    expect(exit).toEqual({ code: 0, signal: null });
    await new Promise((r) => setTimeout(r, 1000));
    const whileDown = ok;
    const restarted = await serve(portA);
    replicas.push(restarted);
    await new Promise((r) => setTimeout(r, 3500)); // past nginx's fail_timeout (2 s), so it tries the replica again
    stop = true;
    await Promise.all(clients);

    expect(failures).toEqual([]);
    expect(beforeStop).toBeGreaterThan(50);
    expect(whileDown - beforeStop).toBeGreaterThan(50); // the other replica carried the load
    // The restarted process counts from zero: whatever it has answered came after the restart.
    const metrics = await (await fetch(`${restarted.url}/metrics`)).text();
    const served = [...metrics.matchAll(/^erc_demos_http_requests_total\{method="(?:GET|POST)",route="\/demonstrations",status="200"\} (\d+)$/gm)]
      .reduce((n, m) => n + Number(m[1]), 0);
    expect(served).toBeGreaterThan(10);
    // A client's request id goes through nginx to the replica and back.
    const traced = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'trace-through-nginx' } });
    expect(traced.headers.get('x-request-id')).toBe('trace-through-nginx');
  });

  it('passes the API key through to a replica with keys: 401 without it, 200 with it (issue 25)', async () => {
    const key = 'replica-key-'.repeat(3);
    const keys = join(dir, 'keys.json');
    writeFileSync(keys, JSON.stringify({ keys: [{ name: 'through-nginx', scope: 'read', key }] }));
    const [port, front] = [await freePort(), await freePort()];
    const replica = await startServeProcess([BIN, 'serve', '--index', indexDir, '--port', String(port), '--keys', keys]);
    replicas.push(replica);
    const proxy = await startNginx(loopbackConfig([port], front, join(dir, 'nginx-keys')), join(dir, 'nginx-keys'), front);
    try {
      const url = `http://127.0.0.1:${front}/demonstrations?k=1&utterance=hello`;
      const refused = await fetch(url);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="erc-demos"');
      expect(((await refused.json()) as { error: { param: string } }).error.param).toBe('authorization');
      const answered = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
      expect(answered.status).toBe(200);
      expect(((await answered.json()) as { demonstrations: unknown[] }).demonstrations).toHaveLength(1);
    } finally {
      proxy.kill('SIGQUIT');
    }
  });

  it('a write through nginx lands once and every replica answers with it within the poll (issue 24)', async () => {
    const key = 'replica-writer-'.repeat(3);
    const keys = join(dir, 'keys-write.json');
    writeFileSync(keys, JSON.stringify({ keys: [{ name: 'writer', scope: 'write', key }] }));
    const [portA, portB, front] = [await freePort(), await freePort(), await freePort()];
    const env = { ERC_DEMOS_WRITES_POLL_MS: '200' };
    const pair = await Promise.all([portA, portB].map((port) => startServeProcess([BIN, 'serve', '--index', indexDir, '--port', String(port), '--keys', keys], env)));
    replicas.push(...pair);
    const proxy = await startNginx(loopbackConfig([portA, portB], front, join(dir, 'nginx-writes')), join(dir, 'nginx-writes'), front);
    const auth = { authorization: `Bearer ${key}` };
    try {
      const text = 'A heron landed on the bonnet of my car this morning.';
      const res = await fetch(`http://127.0.0.1:${front}/indexes/sample/dialogues`, {
        method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ dialogues: [{ id: 'via-nginx', turns: [{ speaker: 'Ann', text, label: 'surprise' }] }] }),
      });
      expect(res.status).toBe(201);
      await new Promise((r) => setTimeout(r, 1200));
      for (const port of [portA, portB]) {
        const answer = await fetch(`http://127.0.0.1:${port}/demonstrations?k=1&utterance=${encodeURIComponent(text)}`, { headers: auth });
        expect(((await answer.json()) as { demonstrations: { dialogue: string }[] }).demonstrations[0].dialogue).toBe('via-nginx');
        const listed = (await (await fetch(`http://127.0.0.1:${port}/indexes`, { headers: auth })).json()) as { indexes: { written: { seq: number; added: number } }[] };
        expect(listed.indexes[0].written).toMatchObject({ seq: 1, added: 1 });
      }
      const again = await fetch(`http://127.0.0.1:${front}/indexes/sample/dialogues/via-nginx`, { method: 'DELETE', headers: auth });
      expect(await again.json()).toMatchObject({ dialogue: 'via-nginx', removed: 1 });
    } finally {
      proxy.kill('SIGQUIT');
    }
  });
});
