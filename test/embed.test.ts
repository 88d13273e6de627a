import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoTokenizer, env } from '@xenova/transformers';
import { describe, expect, it } from 'vitest';
import { createEmbedder } from '../src/embed/create.js';
import { UseLitePool } from '../src/embed/pool.js';
import { UseLiteEmbedder } from '../src/embed/use-lite.js';
import { UseLiteOnnxEmbedder } from '../src/embed/use-lite-onnx.js';
import { TINY_BERT } from './helpers.js';

const dot = (a: Float32Array, b: ArrayLike<number>) => a.reduce((s, x, i) => s + x * b[i], 0);

describe('USE-lite, the offline default', () => {
  it('embeds a batch into unit-length 512-d vectors; paraphrases are closer than unrelated sentences', async () => {
    const embedder = await createEmbedder();
    expect(embedder.id).toBe('use-lite');
    const [a, b, c] = await embedder.embed(['I am so angry at you!', 'I am furious with you.', 'The train leaves at nine.']);
    for (const v of [a, b, c]) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(512);
      expect(dot(v, v)).toBeCloseTo(1, 5);
    }
    expect(dot(a, b)).toBeGreaterThan(dot(a, c) + 0.2);
    expect(await embedder.embed([])).toEqual([]);
  });
});

describe('USE-lite on onnxruntime (the runtime the default embedder uses)', () => {
  it('gives the TF.js runtime\'s vectors: the same weights, rewritten as an ONNX graph', async () => {
    const reference = await UseLiteEmbedder.load();
    const native = await UseLiteOnnxEmbedder.load();
    const texts = [
      "I can't believe you did that!", 'Okay.', 'Oh.', 'Hey, Joey! What are you doing here?', 'Mmm-hmm, yeah, sure...',
      // characters outside the vocabulary (unknown pieces), accents, and more than the 128 tokens the model reads
      'Pizza 🍕 for the émigré ☃ — “quoted”', 'a '.repeat(200), 'I AM SO ANGRY AT YOU RIGHT NOW',
    ];
    const expected = await Promise.all(texts.map(async (t) => (await reference.embed([t]))[0]));
    const packed = await native.embed(texts);
    const alone = await Promise.all(texts.map(async (t) => (await native.embed([t]))[0]));
    texts.forEach((_, i) => {
      expect(dot(expected[i], packed[i])).toBeGreaterThan(0.999);
      expect(dot(alone[i], packed[i])).toBeGreaterThan(0.99999); // a sentence's company in a call changes nothing
    });
    // Empty texts have no tokens; they still get a unit vector (the TF.js runtime gives one inside a batch too).
    const [empty, word] = await native.embed(['', 'word']);
    expect(dot(empty, empty)).toBeCloseTo(1, 5);
    expect(dot(word, (await reference.embed(['', 'word']))[1])).toBeGreaterThan(0.999);
    expect(dot(empty, (await reference.embed(['', 'word']))[0])).toBeGreaterThan(0.999);
  });
});

describe('USE-lite worker pool', () => {
  it('gives the in-thread vectors, for one batch and for concurrent single calls (micro-batched)', async () => {
    const single = await UseLiteOnnxEmbedder.load();
    const pool = await UseLitePool.start(2);
    const texts = ['a', 'a much longer sentence than the others here', 'Okay.', "I can't believe you did that!", 'x y z', 'Hi!'];
    const direct = await single.embed(texts);
    const batched = await pool.embed(texts);
    const concurrent = await Promise.all(texts.map((t) => pool.embed([t])));
    texts.forEach((_, i) => {
      expect(dot(direct[i], batched[i])).toBeGreaterThan(0.99999);
      expect(dot(direct[i], concurrent[i][0])).toBeGreaterThan(0.99999);
    });
    await pool.close();
  });
});

describe('transformers.js on the tiny ONNX fixture (offline)', () => {
  const reference = JSON.parse(readFileSync(join(TINY_BERT, 'reference.json'), 'utf8')) as { texts: string[]; token_ids: number[][]; vectors: number[][] };

  it('tokenizes like the Python tokenizer that made the fixture', async () => {
    env.allowRemoteModels = false;
    env.localModelPath = join(TINY_BERT, '..');
    const tokenizer = await AutoTokenizer.from_pretrained('tiny-bert');
    for (const [i, text] of reference.texts.entries()) {
      expect(Array.from(tokenizer(text).input_ids.data as BigInt64Array, Number)).toEqual(reference.token_ids[i]);
    }
  });

  it('loads from a local folder with remote loading off and reproduces onnxruntime-python mean-pooled vectors', async () => {
    const embedder = await createEmbedder(`transformers:${TINY_BERT}`);
    expect(env.allowRemoteModels).toBe(false);
    expect(embedder.id).toBe(`transformers:${TINY_BERT}`);
    expect(embedder.dim).toBe(32);
    const vectors = await embedder.embed(reference.texts);
    vectors.forEach((v, i) => {
      expect(dot(v, v)).toBeCloseTo(1, 5);
      expect(dot(v, reference.vectors[i])).toBeGreaterThan(0.9999);
    });
    // Batched with padding gives the same vectors as one at a time.
    const [single] = await embedder.embed([reference.texts[1]]);
    expect(dot(single, vectors[1])).toBeGreaterThan(0.9999);
  });

  it('refuses a hub id while remote loading is off, and an unknown embedder spec, saying what to do', async () => {
    await expect(createEmbedder('transformers:Xenova/all-MiniLM-L6-v2')).rejects.toThrow(
      /not a local folder and remote loading is off \(set ERC_DEMOS_ALLOW_REMOTE_MODELS=1/,
    );
    await expect(createEmbedder('word2vec')).rejects.toThrow('unknown embedder "word2vec" (expected use-lite or transformers:<model id or folder>)');
  });
});
