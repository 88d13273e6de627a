import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import { buildIndex } from '../src/index/build.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { mmrSelect } from '../src/retrieve/mmr.js';
import { createApp } from '../src/server/app.js';
import { DemoService } from '../src/service/service.js';
import { tempDir } from './helpers.js';

describe('maximal marginal relevance (pure)', () => {
  // Three candidates: a and b are near-duplicates, c is less relevant but different.
  const hits = [{ id: 0, score: 0.9 }, { id: 1, score: 0.88 }, { id: 2, score: 0.7 }];
  const sim = (x: number, y: number) => (x + y === 1 ? 0.95 : 0.1);

  it('lambda 1 is plain top-k; lower lambda skips the near-duplicate (worked by hand)', () => {
    expect(mmrSelect(hits, 2, 1, sim).map((h) => h.id)).toEqual([0, 1]);
    // lambda 0.5: after 0, b scores 0.5*0.88 - 0.5*0.95 = -0.035, c scores 0.5*0.7 - 0.5*0.1 = 0.3.
    expect(mmrSelect(hits, 2, 0.5, sim).map((h) => h.id)).toEqual([0, 2]);
    expect(mmrSelect(hits, 5, 0.5, sim).map((h) => h.id)).toEqual([0, 2, 1]);
    expect(mmrSelect([], 3, 0.5, sim)).toEqual([]);
  });
});

describe('strategy=mmr over every door (sample index)', () => {
  const dir = tempDir();
  let server: Server;
  let base: string;
  interface Demo { id: number; text: string; score: number; label: string }
  const get = async (q: string) => (await fetch(`${base}/demonstrations?${q}`)).json() as Promise<{ demonstrations: Demo[]; error?: { param: string; message: string } }>;

  beforeAll(async () => {
    const embedder = await createEmbedder('use-lite');
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out: join(dir, 'sample'), name: 'sample' });
    server = createApp(await DemoService.load([join(dir, 'sample')])).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('GET: lambda 1 equals top-k; lower lambda keeps the best match and changes the rest; a bad lambda is a 400 naming it', async () => {
    const q = `utterance=${encodeURIComponent("I'm so scared, I heard a noise downstairs")}&k=5`;
    const topk = await get(q);
    const plain = await get(`${q}&strategy=mmr&lambda=1`);
    expect(plain.demonstrations.map((d) => d.id)).toEqual(topk.demonstrations.map((d) => d.id));
    const diverse = await get(`${q}&strategy=mmr&lambda=0.3`);
    expect(diverse.demonstrations).toHaveLength(5);
    expect(diverse.demonstrations[0].id).toBe(topk.demonstrations[0].id);
    expect(diverse.demonstrations.map((d) => d.id)).not.toEqual(topk.demonstrations.map((d) => d.id));
    const scores = diverse.demonstrations.map((d) => d.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(new Set(diverse.demonstrations.map((d) => d.label)).size).toBeGreaterThanOrEqual(new Set(topk.demonstrations.map((d) => d.label)).size);
    for (const bad of ['2', '-0.1', 'x']) {
      const { error } = await get(`${q}&strategy=mmr&lambda=${bad}`);
      expect(error?.param).toBe('lambda');
      expect(error?.message).toMatch(/^lambda: must be (a number )?between 0 and 1$/);
    }
  });

  it('POST /demonstrations and POST /prompts take strategy mmr with lambda', async () => {
    const post = (path: string, body: unknown) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const batch = (await (await post('/demonstrations', { queries: [{ utterance: 'so happy for you', strategy: 'mmr', lambda: 0.5, k: 3, dedup: true }] })).json()) as { results: { demonstrations: Demo[] }[] };
    expect(batch.results[0].demonstrations).toHaveLength(3);
    const prompt = await post('/prompts', { format: 'instructerc', dialogue: { turns: [{ speaker: 'A', text: 'so happy for you' }] }, target: 0, options: { strategy: 'mmr', lambda: 0.4, k: 3 } });
    expect(prompt.status).toBe(200);
    expect(((await prompt.json()) as { demonstrations: Demo[] }).demonstrations).toHaveLength(3);
    const bad = await post('/prompts', { format: 'instructerc', dialogue: { turns: [{ speaker: 'A', text: 'hi' }] }, target: 0, options: { strategy: 'mmr', lambda: 3 } });
    expect([bad.status, ((await bad.json()) as { error: { param: string } }).error.param]).toEqual([400, 'options.lambda']);
  });
});
