import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cliAsync, tempDir } from './helpers.js';
import { startServeProcess, type ServeProcess } from './support/serve-process.js';

interface ErrorBody { error: { param: string | null; message: string } }
interface Demo { id: number; text: string; label: string; dialogue: string; turn: number }

/**
 * The write routes against real `serve` processes: two of them on one index folder (replicas on a shared volume), a
 * keys file with a write key, a read key and a key for another index. A write through one is answered by the other
 * within the poll setting; every refusal is the right status and JSON body, and writes nothing.
 */
describe('live writes over HTTP, two serve processes on one folder', () => {
  const dir = tempDir();
  const index = join(dir, 'sample');
  const keys = { write: randomBytes(32).toString('base64url'), read: randomBytes(32).toString('base64url'), other: randomBytes(32).toString('base64url') };
  const sha = (key: string) => createHash('sha256').update(key).digest('hex');
  const POLL_MS = 200;
  let a: ServeProcess;
  let b: ServeProcess;

  beforeAll(async () => {
    const built = await cliAsync(['build', '--corpus', 'jsonl', '--data', join(__dirname, '..', 'data', 'sample', 'sample.jsonl'), '--corpus-name', 'sample', '--split', 'train', '--out', index]);
    expect(built.code, built.stderr).toBe(0);
    const keysFile = join(dir, 'keys.json');
    writeFileSync(keysFile, JSON.stringify({ keys: [
      { name: 'ops', scope: 'write', sha256: sha(keys.write) },
      { name: 'trainer', scope: 'read', sha256: sha(keys.read) },
      { name: 'elsewhere', scope: 'write', sha256: sha(keys.other), indexes: ['meld'] },
    ] }));
    const env = { ERC_DEMOS_WRITES_POLL_MS: String(POLL_MS), ERC_DEMOS_EMBED_THREADS: '1', ERC_DEMOS_COMPACT_HINT_ROWS: '2' };
    [a, b] = await Promise.all([0, 1].map(() => startServeProcess([BIN, 'serve', '--index', index, '--port', '0', '--keys', keysFile], env)));
  }, 240_000);
  afterAll(async () => {
    for (const p of [a, b]) {
      p?.child.kill('SIGTERM');
      await p?.exited;
    }
  });

  function call(server: ServeProcess, method: string, path: string, key: string | undefined, body?: unknown): Promise<Response> {
    return fetch(server.url + path, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }

  /** Every answer a write route gave, to check against the OpenAPI document at the end. */
  const answers: { method: string; path: string; status: number; body: unknown }[] = [];
  const ROUTES: [RegExp, string][] = [[/^\/indexes\/[^/]+\/dialogues$/, '/indexes/{name}/dialogues'], [/^\/indexes\/[^/]+\/dialogues\/[^/]+$/, '/indexes/{name}/dialogues/{dialogue}'], [/^\/indexes\/[^/]+\/dialogues\/[^/]+\/turns\/[^/]+$/, '/indexes/{name}/dialogues/{dialogue}/turns/{turn}']];

  async function write(server: ServeProcess, method: string, path: string, key: string | undefined, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await call(server, method, path, key, body);
    const answer = { method: method.toLowerCase(), path, status: res.status, body: (await res.json()) as unknown };
    answers.push(answer);
    return answer;
  }

  async function demos(server: ServeProcess, utterance: string, extra = '&k=3'): Promise<Demo[]> {
    const res = await call(server, 'GET', `/demonstrations?utterance=${encodeURIComponent(utterance)}${extra}`, keys.read);
    expect(res.status).toBe(200);
    return ((await res.json()) as { demonstrations: Demo[] }).demonstrations;
  }

  const dialogue = { id: 'live-1', turns: [{ speaker: 'Ola', text: 'A moose just walked through the hotel lobby!', label: 'surprise' }, { speaker: 'Per', text: 'It left muddy prints everywhere, gross.', label: 'disgust' }] };

  it('a write through one server: 201, answered at once there and on the other within the poll interval', async () => {
    const res = await write(a, 'POST', '/indexes/sample/dialogues', keys.write, { dialogues: [dialogue] });
    expect(res.status).toBe(201);
    const body = res.body as { index: string; seq: number; dialogues: { id: string; rows: number[] }[] };
    expect(body).toMatchObject({ index: 'sample', seq: 1, dialogues: [{ id: 'live-1', rows: [100, 101] }] });
    expect((await demos(a, dialogue.turns[0].text))[0]).toMatchObject({ id: 100, dialogue: 'live-1', label: 'surprise' });
    const acked = performance.now();
    let seen: number | undefined;
    while (performance.now() - acked < 5000) {
      if ((await demos(b, dialogue.turns[0].text))[0].dialogue === 'live-1') {
        seen = performance.now() - acked;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen, 'the other server answered with the write').toBeDefined();
    // The poll interval, plus applying it and a request's time on a loaded 2-core machine.
    expect(seen!).toBeLessThan(POLL_MS + 1500);
    const listed = (await (await call(b, 'GET', '/indexes', keys.read)).json()) as { indexes: { written: { seq: number; added: number; rows: number } }[] };
    expect(listed.indexes[0].written).toMatchObject({ seq: 1, added: 2, rows: 102 });
    // Past ERC_DEMOS_COMPACT_HINT_ROWS (2 here), each server says a compaction would fold the written rows in.
    expect(b.stderr()).toMatch(/index "sample": .*\(2 added, 0 relabelled\).* `erc-demos compact --index <dir>`/);
    const metrics = await (await call(b, 'GET', '/metrics', keys.read)).text();
    expect(metrics).toMatch(/^erc_demos_index_rows\{index="sample"\} 102$/m);
    expect(metrics).toMatch(/^erc_demos_index_writes\{index="sample"\} 1$/m);
    expect(metrics).toMatch(/^erc_demos_index_written_rows\{index="sample",kind="added"\} 2$/m);
  });

  it('refusals: no key 401, read key 403, key for another index 403, unknown index/dialogue/turn 404, duplicate 409, bad label 400', async () => {
    const cases: [string, string, string | undefined, unknown, number, string | null][] = [
      ['POST', '/indexes/sample/dialogues', undefined, { dialogues: [dialogue] }, 401, 'authorization'],
      ['POST', '/indexes/sample/dialogues', keys.read, { dialogues: [dialogue] }, 403, 'authorization'],
      ['POST', '/indexes/sample/dialogues', keys.other, { dialogues: [dialogue] }, 403, 'index'],
      ['POST', '/indexes/nope/dialogues', keys.write, { dialogues: [dialogue] }, 404, 'index'],
      ['POST', '/indexes/sample/dialogues', keys.write, { dialogues: [dialogue] }, 409, 'dialogues.0.id'],
      ['POST', '/indexes/sample/dialogues', keys.write, { dialogues: [{ id: 'z', turns: [{ speaker: 'a', text: 'hi', label: 'bliss' }] }] }, 400, 'dialogues.0.turns.0.label'],
      ['POST', '/indexes/sample/dialogues', keys.write, { dialogues: [{ id: 'z', turns: [{ speaker: 'a', text: 'hi', label: 'joy', colour: 'red' }] }] }, 400, 'dialogues.0.turns.0.colour'],
      ['PATCH', '/indexes/sample/dialogues/nope/turns/0', keys.write, { label: 'joy' }, 404, 'dialogue'],
      ['PATCH', '/indexes/sample/dialogues/live-1/turns/9', keys.write, { label: 'joy' }, 404, 'turn'],
      ['PATCH', '/indexes/sample/dialogues/live-1/turns/x', keys.write, { label: 'joy' }, 400, 'turn'],
      ['PATCH', '/indexes/sample/dialogues/live-1/turns/0', keys.write, { label: 'bliss' }, 400, 'label'],
      ['DELETE', '/indexes/sample/dialogues/nope', keys.write, undefined, 404, 'dialogue'],
      ['DELETE', '/indexes/sample/dialogues/live-1', keys.read, undefined, 403, 'authorization'],
    ];
    for (const [method, path, key, body, status, param] of cases) {
      const res = await write(a, method, path, key, body);
      expect(res.status, `${method} ${path}`).toBe(status);
      expect((res.body as ErrorBody).error.param, `${method} ${path}`).toBe(param);
    }
    const listed = (await (await call(a, 'GET', '/indexes', keys.read)).json()) as { indexes: { written: { seq: number } }[] };
    expect(listed.indexes[0].written.seq).toBe(1);
  });

  it('relabel and remove through the other server; each answered at once there and on the first within the poll', async () => {
    const id = encodeURIComponent('train/s01');
    const relabel = await write(b, 'PATCH', `/indexes/sample/dialogues/${id}/turns/0`, keys.write, { label: 'fear' });
    expect(relabel.status).toBe(200);
    const changed = relabel.body as { id: number; labels: string[]; seq: number };
    expect(changed).toMatchObject({ labels: ['fear'], seq: 2 });
    const removed = await write(b, 'DELETE', '/indexes/sample/dialogues/live-1', keys.write);
    expect(removed.body).toMatchObject({ dialogue: 'live-1', removed: 2, seq: 3 });
    expect((await demos(b, dialogue.turns[0].text)).map((d) => d.dialogue)).not.toContain('live-1');
    await new Promise((r) => setTimeout(r, POLL_MS + 800));
    const onA = await demos(a, dialogue.turns[0].text, '&strategy=per-label&k=20');
    expect(onA.map((d) => d.dialogue)).not.toContain('live-1');
    const row = onA.find((d) => d.id === changed.id);
    expect(row?.label).toBe('fear');
  });

  it('erc-demos compact while both serve: they keep answering, reopen the new build at their next look, and take writes on it', async () => {
    const before = (await (await call(a, 'GET', '/indexes', keys.read)).json()) as { indexes: { manifest: { count: number }; written: { seq: number } }[] };
    expect(before.indexes[0].written.seq).toBe(3);
    const compacting = cliAsync(['compact', '--index', index]);
    let answered = 0;
    let failed = 0;
    let done = false;
    void compacting.then(() => (done = true));
    while (!done) {
      const res = await call(answered % 2 ? a : b, 'GET', `/demonstrations?utterance=${encodeURIComponent('Where were you last night?')}&k=2`, keys.read);
      if (res.status === 200) answered += 1;
      else failed += 1;
      await res.arrayBuffer();
    }
    const compacted = await compacting;
    expect(compacted.code, compacted.stderr).toBe(0);
    expect(failed).toBe(0);
    expect(answered).toBeGreaterThan(0);
    for (const server of [a, b]) {
      let listed: { indexes: { manifest: { count: number }; written: { seq: number } }[] } | undefined;
      const started = performance.now();
      while (performance.now() - started < 10_000) {
        listed = (await (await call(server, 'GET', '/indexes', keys.read)).json()) as typeof listed;
        if (listed!.indexes[0].written.seq === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // The built rows plus the two added, minus those removed since: 100 + 2 - 2.
      expect(listed!.indexes[0]).toMatchObject({ manifest: { count: 100 }, written: { seq: 0 } });
    }
    expect(b.stderr()).toMatch(/now holds another build .*reopening/);
    const res = await call(b, 'POST', '/indexes/sample/dialogues', keys.write, { dialogues: [{ id: 'after-compact', turns: [{ speaker: 'x', text: 'A walrus sunbathing on the ferry deck.', label: 'surprise' }] }] });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ seq: 1, dialogues: [{ id: 'after-compact', rows: [100] }] });
  });

  it('every answer of the write routes, successes and refusals, validates against the OpenAPI document', async () => {
    const doc = (await (await call(a, 'GET', '/openapi.json', keys.read)).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema(doc as object, 'openapi');
    expect(new Set(answers.map((x) => x.status))).toEqual(new Set([200, 201, 400, 401, 403, 404, 409]));
    for (const answer of answers) {
      const route = ROUTES.find(([pattern]) => pattern.test(answer.path))![1];
      expect(doc.paths[route][answer.method].responses, `${answer.method} ${route} documents ${answer.status}`).toHaveProperty(String(answer.status));
      const validate = ajv.compile({ $ref: `openapi#/paths/${route.replaceAll('/', '~1')}/${answer.method}/responses/${answer.status}/content/application~1json/schema` });
      expect(validate(answer.body), `${answer.method} ${answer.path} ${answer.status}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });
});
