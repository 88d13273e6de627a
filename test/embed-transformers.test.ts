// transformers.js in its own test file (its own process): it loads onnxruntime 1.14, and the USE-lite tests load
// 1.20; the two libraries are kept out of one process (see src/embed/create.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoTokenizer, env } from '@xenova/transformers';
import { describe, expect, it } from 'vitest';
import { createEmbedder } from '../src/embed/create.js';
import { TINY_BERT } from './helpers.js';

const dot = (a: Float32Array, b: ArrayLike<number>) => a.reduce((s, x, i) => s + x * b[i], 0);

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
