import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServeProcess, type ServeProcess } from './support/serve-process.js';
import { loadCorpus } from '../src/corpus/load.js';
import type { Dialogue } from '../src/corpus/types.js';
import { createEmbedder } from '../src/embed/create.js';
import type { Embedder } from '../src/embed/types.js';
import { buildIndex } from '../src/index/build.js';
import { DemoIndex } from '../src/index/open.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { FORMATS } from '../src/prompt/formats.js';
import { ReloadableService } from '../src/server/reloadable.js';
import { exportPrompts } from '../src/service/export.js';
import type { DemoService } from '../src/service/service.js';
import { BIN, tempDir } from './helpers.js';

interface DemoBody { index: string; demonstrations: { text: string; score: number }[] }

const dir = tempDir();
let embedder: Embedder;
let sample: Dialogue[];

beforeAll(async () => {
  embedder = await createEmbedder('use-lite');
  sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' }).dialogues;
});
afterAll(() => embedder?.close?.());

/** A few dialogues of text the sample corpus does not hold. */
function otherCorpus(): string {
  const file = join(dir, 'other.jsonl');
  const lines = Array.from({ length: 6 }, (_, d) => JSON.stringify({
    id: `o${d}`, split: 'train', turns: [
      { speaker: 'Zed', text: `The zebra number ${d} crossed the frozen river at dawn.`, label: 'joy' },
      { speaker: 'Yara', text: `Lighthouse keeper ${d} lost the keys again.`, label: 'sadness' },
    ],
  }));
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

async function waitFor(what: () => boolean, timeoutMs: number, describeIt: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!what()) {
    if (Date.now() > until) throw new Error(`timed out waiting: ${describeIt()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('SIGHUP reopens the served indexes (serve as a process)', () => {
  let server: ServeProcess | undefined;
  afterAll(() => {
    server?.child.kill('SIGKILL');
  });

  it('serves a rebuilt index after SIGHUP; a damaged one leaves the previous serving and says why on stderr', async () => {
    const indexDir = join(dir, 'served');
    await buildIndex({ dialogues: sample, corpus: 'sample', splits: ['train'], embedder, out: indexDir, name: 'served', projection: { kind: 'none' } });
    server = await startServeProcess([BIN, 'serve', '--index', indexDir, '--port', '0'], { ERC_DEMOS_EMBED_THREADS: '0' });
    const ask = async (utterance: string) => (await (await fetch(`${server!.url}/demonstrations?k=1&utterance=${encodeURIComponent(utterance)}`)).json()) as DemoBody;
    const zebra = 'The zebra number 3 crossed the frozen river at dawn.';
    expect((await ask(zebra)).demonstrations[0].text).not.toBe(zebra);
    const count = async () => ((await (await fetch(`${server!.url}/indexes`)).json()) as { indexes: { manifest: { count: number } }[] }).indexes[0].manifest.count;
    expect(await count()).toBe(sample.reduce((n, d) => n + d.turns.length, 0));

    // Rebuilt in place with other data: served only once told.
    const other = loadCorpus({ format: 'jsonl', data: otherCorpus(), splits: ['train'], name: 'other' }).dialogues;
    await buildIndex({ dialogues: other, corpus: 'other', splits: ['train'], embedder, out: indexDir, name: 'served', projection: { kind: 'none' } });
    expect((await ask(zebra)).demonstrations[0].text).not.toBe(zebra);
    server.child.kill('SIGHUP');
    await waitFor(() => server!.stderr().includes('SIGHUP: reopened: index "served"'), 60_000, () => server!.stderr());
    const after = await ask(zebra);
    expect(after.demonstrations[0].text).toBe(zebra);
    expect(after.demonstrations[0].score).toBeGreaterThan(0.99);
    expect(await count()).toBe(12);

    // Damaged in place: the reload is refused, the index opened before keeps serving.
    const vectors = join(indexDir, 'vectors.f32');
    const bytes = readFileSync(vectors);
    bytes[Math.floor(bytes.length / 2)] ^= 0x10;
    writeFileSync(vectors, bytes);
    server.child.kill('SIGHUP');
    await waitFor(() => server!.stderr().includes('SIGHUP: reopening failed'), 60_000, () => server!.stderr());
    expect(server.stderr()).toMatch(/SIGHUP: reopening failed, still serving the indexes opened before: .*vectors\.f32 does not match its checksum/);
    expect((await ask(zebra)).demonstrations[0].text).toBe(zebra);
    expect(server.child.exitCode).toBeNull();
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  }, 180_000);
});

describe('ReloadableService', () => {
  it('a request finishes on the service it arrived on; the old one is closed once its last request is over; a failed reload changes nothing', async () => {
    const closed: string[] = [];
    const fake = (name: string) => ({ name, close: async () => void closed.push(name) }) as unknown as DemoService & { name: string };
    const served = new ReloadableService(fake('old'), (service) => (req, res) => {
      const delay = new URL(req.url!, 'http://x').searchParams.get('delay');
      setTimeout(() => res.end((service as DemoService & { name: string }).name), Number(delay ?? 0));
    });
    const server: Server = createServer(served.listener).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const slow = fetch(`${base}/?delay=400`).then((r) => r.text());
      await new Promise((r) => setTimeout(r, 100));
      await served.reload(async () => fake('new'));
      expect(await (await fetch(base)).text()).toBe('new');
      expect(closed).toEqual([]); // the slow request still holds the old service
      expect(await slow).toBe('old');
      await waitFor(() => closed.length > 0, 2000, () => String(closed));
      expect(closed).toEqual(['old']);
      await expect(served.reload(async () => { throw new Error('damaged'); })).rejects.toThrow('damaged');
      expect(await (await fetch(base)).text()).toBe('new');
      expect(served.service).toMatchObject({ name: 'new' });
      await served.close();
      expect(closed).toEqual(['old', 'new']);
    } finally {
      server.close();
    }
  });
});

describe('export leftovers', () => {
  it('the next export to a path removes the .tmp-PID files of dead exports to it, not a live one\'s or another path\'s', async () => {
    const indexDir = join(dir, 'export-index');
    await buildIndex({ dialogues: sample, corpus: 'sample', splits: ['train'], embedder, out: indexDir, name: 'sample', projection: { kind: 'none' } });
    const index = await DemoIndex.open(indexDir, { embedder });
    const out = join(dir, 'prompts.jsonl');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const live = spawn('sleep', ['30']);
    try {
      const files = [`${out}.tmp-${dead}`, `${out}.tmp-${live.pid}`, `${join(dir, 'other.jsonl')}.tmp-${dead}`, `${out}.tmp-notapid`];
      for (const f of files) writeFileSync(f, 'half a line');
      await exportPrompts({ index, embedder, format: FORMATS.get('instructerc')!, dialogues: sample.slice(0, 2), options: { k: 1, strategy: 'topk' }, out });
      expect(files.map((f) => existsSync(f))).toEqual([false, true, true, true]);
      expect(readFileSync(out, 'utf8').trim().split('\n').length).toBeGreaterThan(1);
    } finally {
      live.kill();
    }
  });
});
