import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { createEmbedder } from '../src/embed/create.js';
import { TINY_BERT } from './helpers.js';

const dot = (a: Float32Array, b: ArrayLike<number>) => a.reduce((s, x, i) => s + x * b[i], 0);

describe('a plain transformers folder (no sentence-transformers files): the tiny ONNX fixture, offline', () => {
  const reference = JSON.parse(readFileSync(join(TINY_BERT, 'reference.json'), 'utf8')) as { texts: string[]; token_ids: number[][]; vectors: number[][] };

  it('tokenizes like the Python tokenizer that made the fixture', async () => {
    const json = (file: string) => JSON.parse(readFileSync(join(TINY_BERT, file), 'utf8')) as object;
    const tokenizer = new Tokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
    for (const [i, text] of reference.texts.entries()) {
      expect(tokenizer.encode(text).ids).toEqual(reference.token_ids[i]);
    }
  });

  it('loads from a local folder with remote loading off and reproduces onnxruntime-python mean-pooled vectors', async () => {
    const embedder = await createEmbedder(`transformers:${TINY_BERT}`);
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
