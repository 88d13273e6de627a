import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { buildIndex } from '../src/index/build.js';
import { createApp } from '../src/server/app.js';
import { DemoService } from '../src/service/service.js';
import { loadCorpus } from '../src/corpus/load.js';
import { exportPrompts } from '../src/service/export.js';
import { FORMATS } from '../src/prompt/formats.js';
import { DemoIndex } from '../src/index/open.js';
import { cosine, ST_FIXTURES as FIXTURES, tempDir } from './helpers.js';
import { createEmbedder, withDtype, withPrompt } from '../src/embed/create.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { readSentenceTransformerConfig } from '../src/embed/st-config.js';
import { truncate } from '../src/embed/transformers.js';
import { Tokenizer } from '@huggingface/tokenizers';

interface Reference { library: string; texts: string[]; prompt: string; token_ids_without_prompt: number[][]; batch: number[][]; single: number[][] }

describe('sentence-transformers model folders: the vectors of SentenceTransformer.encode()', () => {
  const names = readdirSync(FIXTURES).sort();

  it('tokenizes as the Python tokenizer does, CJK characters one by one (zh) and truncation keeping [SEP]', async () => {
    for (const name of ['zh', 'short-max-len']) {
      const reference = JSON.parse(readFileSync(join(FIXTURES, name, 'reference.json'), 'utf8')) as Reference;
      const json = (file: string) => JSON.parse(readFileSync(join(FIXTURES, name, file), 'utf8')) as object;
      const tokenizer = new Tokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
      const max = readSentenceTransformerConfig(join(FIXTURES, name)).maxSeqLength;
      for (const [i, text] of reference.texts.entries()) {
        const ids = truncate(tokenizer.encode(text).ids as number[], max, 1);
        expect(ids).toEqual(reference.token_ids_without_prompt[i]);
      }
    }
    // One id per CJK character between [CLS] and [SEP], none unknown: 我今天很高兴！ is seven.
    const zh = JSON.parse(readFileSync(join(FIXTURES, 'zh', 'reference.json'), 'utf8')) as Reference;
    expect(zh.token_ids_without_prompt[0]).toHaveLength(9);
    expect(zh.token_ids_without_prompt[0].filter((id) => id === 1)).toEqual([]);
  });

  it('reads both layout generations: pooling, Normalize, length and the default prompt', () => {
    expect(names).toEqual(['cls-normalize', 'lasttoken', 'mean-plain', 'prompt-query', 'quantized', 'short-max-len', 'weightedmean', 'zh']);
    expect(readSentenceTransformerConfig(join(FIXTURES, 'cls-normalize'))).toMatchObject({ pooling: 'cls', normalize: true, maxSeqLength: 128, prompt: '', source: 'sentence-transformers' });
    expect(readSentenceTransformerConfig(join(FIXTURES, 'mean-plain'))).toMatchObject({ pooling: 'mean', normalize: false, maxSeqLength: 128 });
    expect(readSentenceTransformerConfig(join(FIXTURES, 'prompt-query'))).toMatchObject({ pooling: 'mean', prompt: 'query: ', includePrompt: true });
    expect(readSentenceTransformerConfig(join(FIXTURES, 'short-max-len'))).toMatchObject({ pooling: 'max', maxSeqLength: 8 });
    expect(readSentenceTransformerConfig(join(FIXTURES, 'weightedmean'))).toMatchObject({ pooling: 'weightedmean', normalize: true });
  });

  for (const name of ['cls-normalize', 'lasttoken', 'mean-plain', 'prompt-query', 'quantized', 'short-max-len', 'weightedmean', 'zh']) {
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

describe('a folder holding model.onnx and model_quantized.onnx (as hub ONNX folders often do)', () => {
  // reference.json's `quantized`: the int8 graph's vectors, one text per call, by onnxruntime and sentence-transformers'
  // own Pooling and Normalize modules (make_st_fixtures.py; its `quantized_by` says so).
  const folder = join(FIXTURES, 'quantized');
  const reference = JSON.parse(readFileSync(join(folder, 'reference.json'), 'utf8')) as Reference & { quantized: number[][]; quantized_by: string };

  it('gives model.onnx\'s vectors by default (what sentence-transformers loads) and the int8 graph\'s with dtype q8, in the thread and on the pool', async () => {
    expect(reference.quantized_by).toMatch(/sentence-transformers/);
    // The two graphs differ enough for the check to tell them apart.
    expect(Math.min(...reference.quantized.map((v, i) => cosine(v, reference.single[i])))).toBeLessThan(0.998);
    for (const role of ['serve', 'batch'] as const) {
      const settings = { ...DEFAULT_SETTINGS, embedThreads: role === 'serve' ? '0' : '2' };
      const fp32 = await createEmbedder(`transformers:${folder}`, role, settings);
      const q8 = await createEmbedder(withDtype(`transformers:${folder}`, 'q8'), role, settings);
      expect(q8.id).toBe(`transformers:${folder}|dtype=q8`);
      for (const [i, text] of reference.texts.entries()) {
        const [plain] = await fp32.embed([text]);
        const [quantized] = await q8.embed([text]);
        expect(cosine(plain, reference.single[i])).toBeGreaterThan(0.9999);
        expect(cosine(quantized, reference.quantized[i])).toBeGreaterThan(0.9999);
      }
      await fp32.close?.();
      await q8.close?.();
    }
  });
});

describe('the prompt override (--query-prompt): part of the embedder id, so an index is queried as it was built', () => {
  it('a prompt named from the folder or given as text gives encode()\'s vectors; no prompt gives others; the CLI stores it in the id', async () => {
    const folder = join(FIXTURES, 'prompt-query');
    const reference = JSON.parse(readFileSync(join(folder, 'reference.json'), 'utf8')) as Reference;
    for (const prompt of ['query', 'query: ']) {
      const embedder = await createEmbedder(withPrompt(`transformers:${folder}`, prompt));
      expect(embedder.id).toBe(`transformers:${folder}|prompt=${prompt}`);
      const vectors = await embedder.embed(reference.texts);
      vectors.forEach((v, i) => expect(cosine(v, reference.batch[i])).toBeGreaterThan(0.9999));
      await embedder.close?.();
    }
    const none = await createEmbedder(withPrompt(`transformers:${folder}`, ''));
    const plain = await none.embed(reference.texts);
    expect(Math.min(...plain.map((v, i) => cosine(v, reference.batch[i])))).toBeLessThan(0.999);
    await none.close?.();
    expect(() => withPrompt('use-lite', 'query')).toThrow(/--query-prompt applies to transformers/);
  });
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

describe('Chinese end to end: a Chinese multi-party corpus, the Chinese fixture, the zh-erc format', () => {
  const dir = tempDir();
  const SAMPLE_ZH = resolve(__dirname, '..', 'data', 'sample-zh', 'sample-zh.jsonl');

  it('builds, serves and renders zh-erc prompts; demonstration texts survive exactly through HTTP and JSONL export', async () => {
    const corpus = loadCorpus({ format: 'jsonl', data: SAMPLE_ZH, splits: ['train'], name: 'sample-zh' });
    const texts = new Set(corpus.dialogues.flatMap((d) => d.turns.map((t) => t.text)));
    expect(texts.size).toBe(40);
    const embedder = await createEmbedder(`transformers:${join(FIXTURES, 'zh')}`);
    const out = join(dir, 'zh');
    await buildIndex({ dialogues: corpus.dialogues, corpus: 'sample-zh', splits: ['train'], embedder, out, projection: { kind: 'none' } });
    const service = await DemoService.load([out]);
    const server: Server = createApp(service).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      // The page's API: GET /demonstrations, GET /formats, POST /prompts.
      const query = '我今天考试考了满分！';
      const got = (await (await fetch(`${base}/demonstrations?k=5&utterance=${encodeURIComponent(query)}`)).json()) as { demonstrations: { text: string; score: number }[] };
      expect(got.demonstrations[0].text).toBe(query);
      for (const d of got.demonstrations) expect(texts.has(d.text)).toBe(true);
      const { formats } = (await (await fetch(`${base}/formats`)).json()) as { formats: { name: string }[] };
      expect(formats.map((f) => f.name)).toContain('zh-erc');
      const dialogue = corpus.dialogues[3];
      const prompt = (await (await fetch(`${base}/prompts`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ format: 'zh-erc', dialogue: { turns: dialogue.turns.map((t) => ({ speaker: t.speaker, text: t.text })) }, target: 3, options: { k: 3 } }),
      })).json()) as { prompt: string; demonstrations: { text: string }[] };
      expect(prompt.prompt.startsWith('现在，你是一名情感和情绪分析专家。以下是一些示例：<')).toBe(true);
      expect(prompt.prompt).toContain(`请从 <`);
      expect(prompt.prompt).toContain(`中选择 <${dialogue.turns[3].text}> 的情感标签`);
      for (const d of prompt.demonstrations) expect(prompt.prompt).toContain(`<${d.text}>：`);
    } finally {
      await new Promise((r) => server.close(r));
      await service.close();
    }
    const index = await DemoIndex.open(out, { embedder });
    const file = join(dir, 'zh.jsonl');
    await exportPrompts({ index, embedder, format: FORMATS.get('zh-erc')!, dialogues: corpus.dialogues, out: file, options: { k: 2, strategy: 'topk' } });
    const raw = readFileSync(file, 'utf8');
    expect(raw).not.toContain('\\u');
    for (const line of raw.trim().split('\n').map((l) => JSON.parse(l) as { input: string; demonstrations: number[] })) {
      for (const id of line.demonstrations) expect(line.input).toContain(`<${index.rows[id].text}>：`);
    }
    await embedder.close?.();
  });
});
