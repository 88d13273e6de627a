import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEmbedder } from '../src/embed/create.js';
import { startUseLitePool } from '../src/embed/pool.js';
import { UseLiteEmbedder } from '../src/embed/use-lite.js';
import { UseLiteOnnxEmbedder } from '../src/embed/use-lite-onnx.js';

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
    const pool = await startUseLitePool(2);
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

  it('fails fast, with a message, once its workers are gone (instead of waiting forever)', () => {
    // In a child process: ending a thread that holds an onnxruntime session is what a crash looks like, and the
    // process may not survive its teardown (see pool.ts); the test reads what the child printed before that.
    const script = join(mkdtempSync(join(tmpdir(), 'erc-pool-')), 'kill-worker.mts');
    writeFileSync(script, `
      import { startUseLitePool } from ${JSON.stringify(join(process.cwd(), 'src/embed/pool.ts'))};
      const pool = await startUseLitePool(1);
      await pool.executors[0].worker.terminate(); // from outside, as the OOM killer might
      await pool.embed(['anyone there?']).then(() => console.log('answered'), (e) => console.log('refused: ' + e.message));
      console.log('threads: ' + pool.threadIds.length);
      process.exit(0);`);
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
    expect(child.stdout).toContain('refused: no embedder worker is running; restart the process');
    expect(child.stdout).toContain('threads: 0');
  });

  it('refuses calls once closed', async () => {
    const pool = await startUseLitePool(1);
    await pool.close();
    await expect(pool.embed(['late'])).rejects.toThrow('embedder closed');
  });
});
