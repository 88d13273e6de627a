import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { BIN, cli, TINY_BERT, tempDir } from './helpers.js';


describe('erc-demos CLI, as a separate process', () => {
  const dir = tempDir();
  const out = join(dir, 'sample-tiny');

  it('build with the transformers.js embedder on the fixture, then query it', () => {
    const built = cli(['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--split', 'train',
      '--embedder', `transformers:${TINY_BERT}`, '--out', out, '--batch-size', '16']);
    expect(built.stderr).toMatch(/loaded sample train: 25 dialogues, 100 utterances/);
    expect(built.stderr).toMatch(/100\/100/);
    // A folder without sentence-transformers files keeps the defaults, and the build says so.
    expect(built.stderr).toMatch(/embedder transformers:.*tiny-bert: no sentence-transformers files: defaults: mean pooling, normalized/);
    expect(built.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ embedder: { id: `transformers:${TINY_BERT}`, dim: 32 }, count: 100, corpus: 'sample' });

    const queried = cli(['query', '--index', out, '-k', '3', 'Guess what? I got the job!']);
    expect(queried.code).toBe(0);
    const body = JSON.parse(queried.stdout);
    expect(body.embedder).toBe(`transformers:${TINY_BERT}`);
    expect(body.demonstrations).toHaveLength(3);
    expect(body.demonstrations[0]).toMatchObject({ text: 'Guess what? I got the job!', label: 'joy' });
  });

  it('build refuses an --out that is not an index (a folder with files, a file) and leaves it as it was; an empty folder or an index is replaced', () => {
    const foreign = join(dir, 'my-notes');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'x');
    const build = (target: string) => cli(['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--projection', 'none', '--out', target]);
    const refused = build(foreign);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`refusing to write --out ${foreign}: it exists and is not an erc-demos index (no manifest.json; it holds notes.txt)`);
    expect(refused.stderr).not.toMatch(/embedding/); // refused before any work
    expect(readdirSync(foreign)).toEqual(['notes.txt']);
    expect(readFileSync(join(foreign, 'notes.txt'), 'utf8')).toBe('x');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);

    const file = join(dir, 'a-file');
    writeFileSync(file, 'keep me');
    expect(build(file)).toMatchObject({ code: 1, stderr: expect.stringContaining(`refusing to write --out ${file}: it is a file`) });
    expect(readFileSync(file, 'utf8')).toBe('keep me');

    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(build(empty).code).toBe(0);
    expect(existsSync(join(empty, 'manifest.json'))).toBe(true);
    expect(build(empty).code).toBe(0); // now an index of ours: replaced
  });

  it('with the default embedder (worker pool), commands exit when done instead of idling on the workers', () => {
    const useLite = join(dir, 'sample-use-lite');
    const built = cli(['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--out', useLite]);
    expect(built.code).toBe(0);
    const started = Date.now();
    const queried = spawnSync(process.execPath, [BIN, 'query', '--index', useLite, '-k', '1', 'spider in the bath'], { encoding: 'utf8', timeout: 30_000 });
    expect(queried.status).toBe(0); // null if the 30 s timeout had to kill it
    expect(JSON.parse(queried.stdout).demonstrations[0].label).toBe('fear');
    expect(Date.now() - started).toBeLessThan(30_000);

  });

  it('one serve process holds a use-lite index and a transformers index at once (one onnxruntime), both answering', async () => {
    const useLite = join(dir, 'sample-use-lite');
    const child = spawn(process.execPath, [BIN, 'serve', '--index', `a=${useLite}`, '--index', `b=${out}`, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const port = await new Promise<number>((resolvePort, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const m = /listening on http:\/\/[^:]+:(\d+)/.exec(stderr);
        if (m) resolvePort(Number(m[1]));
      });
      child.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
    });
    try {
      const ask = async (index: string, utterance: string) => (await (await fetch(`http://127.0.0.1:${port}/demonstrations?index=${index}&k=1&utterance=${encodeURIComponent(utterance)}`)).json()) as { embedder: string; demonstrations: { text: string; label: string }[] };
      for (let round = 0; round < 3; round++) {
        const [a, b] = await Promise.all([ask('a', 'spider in the bath'), ask('b', 'Guess what? I got the job!')]);
        expect(a.embedder).toBe('use-lite');
        expect(a.demonstrations[0].label).toBe('fear');
        expect(b.embedder).toBe(`transformers:${TINY_BERT}`);
        expect(b.demonstrations[0]).toMatchObject({ text: 'Guess what? I got the job!', label: 'joy' });
      }
    } finally {
      child.kill('SIGTERM');
    }
    const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.once('exit', (c, s) => r([c, s])));
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });

  it('bad arguments exit non-zero with a message naming what was wrong, writing nothing', () => {
    const k = cli(['query', '--index', out, '-k', '0', 'hi']);
    expect(k.code).toBe(2);
    expect(k.stderr).toContain('erc-demos: invalid k: must be between 1 and 100');
    const missing = cli(['build', '--corpus', 'meld', '--data', join(dir, 'nope'), '--out', join(dir, 'never')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/data path not found: .*nope/);
    expect(existsSync(join(dir, 'never'))).toBe(false);
    const format = cli(['build', '--corpus', 'csv', '--data', dir, '--out', join(dir, 'never')]);
    expect(format.code).not.toBe(0);
    expect(format.stderr).toMatch(/--corpus <format>' argument 'csv' is invalid\. Allowed choices are meld, emorynlp, jsonl/);
    const wrongEmbedder = cli(['query', '--index', out, '--embedder', 'use-lite', 'hi']);
    expect(wrongEmbedder.code).toBe(1);
    expect(wrongEmbedder.stderr).toMatch(/built with embedder transformers:.*tiny-bert \(32 dims\), but this run uses use-lite; rebuild/);
  });

  it('eval runs on a JSONL corpus and prints the documented JSON keys', () => {
    const r = cli(['eval', '--index', out, '--corpus', 'jsonl', '--corpus-name', 'sample', '--data', SAMPLE_CORPUS, '--split', 'train', '-k', '3', '--json']);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as Record<string, number>;
    for (const key of ['knn_weighted_f1', 'accuracy', 'macro_f1', 'precision_at_k', 'hnsw_recall_at_k', 'k', 'n']) expect(body).toHaveProperty(key);
    expect(body.n).toBe(100);
    expect(body.k).toBe(3);
    expect(body.hnsw_recall_at_k).toBeGreaterThan(0.9);
  });

  it('prompts writes one JSON line per turn, and a bad format leaves no file', () => {
    const file = join(dir, 'sample.jsonl');
    const r = cli(['prompts', '--index', out, '--corpus', 'jsonl', '--corpus-name', 'sample', '--data', SAMPLE_CORPUS, '--split', 'train', '--format', 'instructerc', '-k', '2', '--out', file]);
    expect(r.code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; input: string; target: string; demonstrations: number[] });
    expect(lines).toHaveLength(100);
    expect(lines[0]).toMatchObject({ id: 'sample/train/s00/0', target: 'joyful' });
    expect(lines[0].demonstrations).toHaveLength(2);
    const bad = cli(['prompts', '--index', out, '--corpus', 'jsonl', '--corpus-name', 'sample', '--data', SAMPLE_CORPUS, '--split', 'train', '--format', 'nope', '--out', join(dir, 'never.jsonl')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('erc-demos: invalid format: unknown format "nope"');
    expect(existsSync(join(dir, 'never.jsonl'))).toBe(false);
  });

  it('serve answers over HTTP on the port it prints', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--index', `tiny=${out}`, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolveUrl, reject) => {
        let err = '';
        child.stderr.on('data', (chunk: Buffer) => {
          err += chunk.toString();
          const match = err.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
          if (match) resolveUrl(match[1]);
        });
        child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
      });
      const res = await fetch(`${url}/demonstrations?utterance=hello&k=2`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { index: string; demonstrations: unknown[] };
      expect(body.index).toBe('tiny');
      expect(body.demonstrations).toHaveLength(2);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
