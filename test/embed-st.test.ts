// transformers.js in its own test file (its own process): see embed-transformers.test.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { buildIndex } from '../src/index/build.js';
import { createApp } from '../src/server/app.js';
import { DemoService } from '../src/service/service.js';
import { tempDir } from './helpers.js';
import { createEmbedder } from '../src/embed/create.js';
import { readSentenceTransformerConfig } from '../src/embed/st-config.js';

/** Made by scripts/fixtures/make_st_fixtures.py with sentence-transformers itself; reference.json holds encode(). */
const FIXTURES = resolve(__dirname, 'fixtures', 'st');
interface Reference { library: string; texts: string[]; prompt: string; batch: number[][]; single: number[][] }
const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
};

describe('sentence-transformers model folders: the vectors of SentenceTransformer.encode()', () => {
  const names = readdirSync(FIXTURES).sort();

  it('reads both layout generations: pooling, Normalize, length and the default prompt', () => {
    expect(names).toEqual(['cls-normalize', 'lasttoken', 'mean-plain', 'prompt-query', 'short-max-len', 'weightedmean', 'zh']);
    expect(readSentenceTransformerConfig(join(FIXTURES, 'cls-normalize'))).toMatchObject({ pooling: 'cls', normalize: true, maxSeqLength: 128, prompt: '', source: 'sentence-transformers' });
    expect(readSentenceTransformerConfig(join(FIXTURES, 'mean-plain'))).toMatchObject({ pooling: 'mean', normalize: false, maxSeqLength: 128 });
    expect(readSentenceTransformerConfig(join(FIXTURES, 'prompt-query'))).toMatchObject({ pooling: 'mean', prompt: 'query: ', includePrompt: true });
    expect(readSentenceTransformerConfig(join(FIXTURES, 'short-max-len'))).toMatchObject({ pooling: 'max', maxSeqLength: 8 });
    expect(readSentenceTransformerConfig(join(FIXTURES, 'weightedmean'))).toMatchObject({ pooling: 'weightedmean', normalize: true });
  });

  for (const name of ['cls-normalize', 'lasttoken', 'mean-plain', 'prompt-query', 'short-max-len', 'weightedmean', 'zh']) {
    it(`${name}: each text alone and the batch equal encode() within cosine 0.9999`, async () => {
      const reference = JSON.parse(readFileSync(join(FIXTURES, name, 'reference.json'), 'utf8')) as Reference;
      const embedder = await createEmbedder(`transformers:${join(FIXTURES, name)}`);
      const batch = await embedder.embed(reference.texts);
      batch.forEach((v, i) => expect(cosine(v, reference.batch[i])).toBeGreaterThan(0.9999));
      for (const [i, text] of reference.texts.entries()) {
        const [alone] = await embedder.embed([text]);
        expect(cosine(alone, reference.single[i])).toBeGreaterThan(0.9999);
      }
      // The fixtures' weights are scaled so that vectors differ: the check would catch a wrong pooling.
      expect(Math.min(...reference.batch.slice(1).map((v) => cosine(v, reference.batch[0])))).toBeLessThan(0.99);
      await embedder.close?.();
    });
  }
});

describe('a sentence-transformers index served over HTTP', () => {
  const dir = tempDir();

  it('ranks demonstrations in the order of the encode() cosines (CLS pooling, and a model with a query prompt)', async () => {
    for (const name of ['cls-normalize', 'prompt-query']) {
      const folder = join(FIXTURES, name);
      const reference = JSON.parse(readFileSync(join(folder, 'reference.json'), 'utf8')) as Reference;
      const embedder = await createEmbedder(`transformers:${folder}`);
      const dialogues = reference.texts.map((text, i) => ({ id: `d${i}`, corpus: 'st', split: 'train', turns: [{ index: 0, speaker: 'A', text, labels: ['x'] }] }));
      const out = join(dir, name);
      await buildIndex({ dialogues, corpus: 'st', splits: ['train'], embedder, out, projection: { kind: 'none' } });
      const service = await DemoService.load([out]);
      const server: Server = createApp(service).listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const port = (server.address() as { port: number }).port;
      for (const [q, text] of reference.texts.entries()) {
        const body = (await (await fetch(`http://127.0.0.1:${port}/demonstrations?k=${reference.texts.length}&utterance=${encodeURIComponent(text)}`)).json()) as { demonstrations: { text: string; score: number }[] };
        const expected = reference.texts.map((t, i) => ({ t, c: cosine(reference.batch[q], reference.batch[i]) })).sort((a, b) => b.c - a.c);
        body.demonstrations.forEach((d, i) => expect(Math.abs(d.score - expected[i].c)).toBeLessThan(1e-4));
      }
      await new Promise((r) => server.close(r));
      await service.close();
      await embedder.close?.();
    }
  });
});
