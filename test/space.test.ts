import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import type { Dialogue } from '../src/corpus/types.js';
import { createEmbedder } from '../src/embed/create.js';
import { combineStatistics, fitLda, fitLdaFromStatistics, ldaStatistics } from '../src/embed/lda.js';
import { project } from '../src/embed/projection.js';
import type { Embedder } from '../src/embed/types.js';
import { evaluateRetrieval } from '../src/eval/evaluate.js';
import { buildIndex } from '../src/index/build.js';
import { blendTopKWithDots, crossValidateSpaces, heldOutSample, topKBlends } from '../src/index/choose-space.js';
import { assignFolds } from '../src/index/folds.js';
import { onnxGram, type Gram } from '../src/index/gram.js';
import { DemoIndex } from '../src/index/open.js';
import { FORMATS } from '../src/prompt/formats.js';
import { createApp } from '../src/server/app.js';
import { exportPrompts } from '../src/service/export.js';
import { DemoService } from '../src/service/service.js';
import { cli as runCli, tempDir } from './helpers.js';

const REFERENCE = resolve(__dirname, 'reference', 'lda_reference.py');
const HAVE_SCIPY = spawnSync('python3', ['-c', 'import numpy, scipy'], { encoding: 'utf8' }).status === 0;
if (!HAVE_SCIPY) console.warn('[erc-demos tests] python3 with numpy and scipy not found: the LDA reference checks are skipped');

/** Runs the numpy/scipy reference (test/reference/lda_reference.py) on one JSON query. */
function reference<T>(query: object): T {
  const run = spawnSync('python3', [REFERENCE], { input: JSON.stringify(query), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`reference failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

/** Dot products in plain JavaScript: the reference the onnxruntime product is checked against. */
function jsGram(): Gram {
  return {
    async dots(queries, rows, dim) {
      const m = queries.length / dim;
      const n = rows.length / dim;
      const out = new Float32Array(m * n);
      for (let q = 0; q < m; q++) {
        for (let r = 0; r < n; r++) {
          let sum = 0;
          for (let i = 0; i < dim; i++) sum += queries[q * dim + i] * rows[r * dim + i];
          out[q * n + r] = sum;
        }
      }
      return out;
    },
    close: async () => {},
  };
}

/** Seeded uniform(-0.5, 0.5). */
function random(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
}

/** n unit vectors in dim dims, label i % classes, class centres `separation` apart in a few directions. */
function synthetic(n: number, dim: number, classes: number, separation: number, seed = 3): { vectors: Float32Array[]; labels: string[] } {
  const rand = random(seed);
  const centres = Array.from({ length: classes }, () => Float32Array.from({ length: dim }, (_, j) => (j < classes ? rand() * separation : 0)));
  const vectors: Float32Array[] = [];
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    const v = Float32Array.from({ length: dim }, (_, j) => centres[c][j] + rand());
    const norm = Math.hypot(...v);
    vectors.push(v.map((x) => x / norm));
    labels.push(`c${c}`);
  }
  return { vectors, labels };
}

describe('folds', () => {
  it('deals whole dialogues into balanced folds, the same for the same ids in any order', () => {
    const ids = Array.from({ length: 103 }, (_, i) => `train/${i}`);
    const folds = assignFolds(ids, 5, 1);
    const sizes = [0, 0, 0, 0, 0];
    for (const f of folds.values()) sizes[f] += 1;
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(assignFolds([...ids].reverse(), 5, 1)).toEqual(folds);
    expect(assignFolds(ids, 5, 2)).not.toEqual(folds);
    // Shuffled, not dealt in id order.
    expect(ids.slice(0, 10).map((id) => folds.get(id))).not.toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  });
});

describe('LDA fit', () => {
  const { vectors, labels } = synthetic(300, 16, 4, 0.6);

  it.skipIf(!HAVE_SCIPY)('gives the cosines of the numpy/scipy reference (generalized eigenvectors of between and shrunk within)', () => {
    const p = fitLda(vectors, labels, 0.1, 0);
    expect(p.dimOut).toBe(3);
    const ours = vectors.map((v) => project(p, v));
    const expected = reference<number[][]>({ mode: 'cosines', vectors: vectors.map((v) => Array.from(v)), labels, shrinkage: 0.1 });
    let worst = 0;
    for (let i = 0; i < vectors.length; i += 7) {
      for (let j = 0; j < vectors.length; j += 5) {
        const cos = ours[i].reduce((s, x, n) => s + x * ours[j][n], 0);
        worst = Math.max(worst, Math.abs(cos - expected[i][j]));
      }
    }
    expect(worst).toBeLessThan(1e-4);
  });

  it('fitted from statistics added up by parts, it equals the fit on all rows', () => {
    const parts = [0, 1, 2].map((f) => ldaStatistics(vectors.filter((_, i) => i % 3 === f), labels.filter((_, i) => i % 3 === f)));
    const whole = fitLda(vectors, labels, 0.3, 0.4);
    const summed = fitLdaFromStatistics(combineStatistics(parts), 0.3, 0.4);
    for (const v of vectors.slice(0, 20)) {
      const a = project(whole, v);
      const b = project(summed, v);
      const cos = a.reduce((s, x, n) => s + x * b[n], 0);
      expect(cos).toBeGreaterThan(0.99999);
    }
  });
});

describe('choosing the space by cross-validation', () => {
  it('scores every blend of a fit in one pass: each its k best by b * raw + (1 - b) * lda, ties to the earlier row', () => {
    const rand = random(9);
    for (let t = 0; t < 50; t++) {
      // Coarse values, so that ties are common.
      const raw = Float32Array.from({ length: 300 }, () => Math.round((rand() + 0.5) * 40) / 40);
      const lda = Float32Array.from({ length: 300 }, () => Math.round((rand() + 0.5) * 10) / 10);
      const blends = [0, 0.2, 0.5, 0.8];
      const tops = topKBlends(raw, lda, blends, 10);
      blends.forEach((b, c) => {
        const expected = Array.from(raw, (_, r) => ({ r, s: b * raw[r] + (1 - b) * lda[r] })).sort((x, y) => y.s - x.s || x.r - y.r).slice(0, 10);
        expect(Array.from(tops[c].ids)).toEqual(expected.map((x) => x.r));
      });
      const rawOnly = Array.from(raw, (s, r) => ({ r, s })).sort((x, y) => y.s - x.s || x.r - y.r).slice(0, 10);
      expect(Array.from(topKBlends(raw, undefined, [1], 10)[0].ids)).toEqual(rawOnly.map((x) => x.r));
    }
  });

  const folds = (n: number) => Array.from({ length: n }, (_, i) => Math.floor(i / 4) % 5); // dialogues of 4 rows

  it('takes LDA where the labels are separable along a few directions, and says why', async () => {
    const { vectors, labels } = synthetic(400, 24, 4, 2);
    const choice = await crossValidateSpaces({ vectors, labels, folds: folds(400), foldCount: 5, gram: jsGram() });
    expect(choice.chosen.projection).toBe('lda');
    const raw = choice.table.find((r) => r.candidate.projection === 'none')!;
    const best = choice.table.find((r) => JSON.stringify(r.candidate) === JSON.stringify(choice.chosen))!;
    expect(best.mean_wf1!).toBeGreaterThan(raw.mean_wf1! + choice.gain_sd);
    expect(choice.reason).toMatch(/gains .* more than the folds' spread/);
    expect(best.fold_wf1).toHaveLength(5);
  });

  it('keeps the raw space where the labels carry no signal', async () => {
    const { vectors } = synthetic(400, 24, 4, 0.5);
    const rand = random(11);
    const noise = vectors.map(() => `c${Math.floor((rand() + 0.5) * 4)}`);
    const choice = await crossValidateSpaces({ vectors, labels: noise, folds: folds(400), foldCount: 5, gram: jsGram() });
    expect(choice.chosen).toEqual({ projection: 'none' });
  });

  it('scores at most a cap of held-out rows per fold, a sample stratified like the fold, and records it', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => i);
    const stratum = (i: number) => (i % 10 < 6 ? 'neutral' : i % 10 < 9 ? 'joy' : 'fear');
    const sample = heldOutSample(rows, stratum, 100, 1);
    expect(sample).toHaveLength(100);
    expect(sample).toEqual([...sample].sort((a, b) => a - b));
    const count = (xs: number[], s: string) => xs.filter((i) => stratum(i) === s).length;
    expect([count(sample, 'neutral'), count(sample, 'joy'), count(sample, 'fear')]).toEqual([60, 30, 10]);
    expect(heldOutSample(rows, stratum, 100, 1)).toEqual(sample);
    expect(heldOutSample(rows, stratum, 100, 2)).not.toEqual(sample);
    expect(heldOutSample(rows, stratum, 1000, 1)).toEqual(rows);
    expect(heldOutSample(rows, stratum, 0, 1)).toEqual(rows);
    // Largest remainder: 7 of 3 strata sized 5, 3, 2 of 10 -> 3.5, 2.1, 1.4 -> 4, 2, 1.
    const small = heldOutSample(rows.slice(0, 10), (i) => (i < 5 ? 'a' : i < 8 ? 'b' : 'c'), 7, 1);
    expect([small.filter((i) => i < 5).length, small.filter((i) => i >= 5 && i < 8).length, small.filter((i) => i >= 8).length]).toEqual([4, 2, 1]);

    const { vectors, labels } = synthetic(400, 24, 4, 2);
    const capped = await crossValidateSpaces({ vectors, labels, folds: folds(400), foldCount: 5, gram: jsGram(), heldOutRows: 30 });
    expect(capped.held_out).toEqual({ cap: 30, rows: [80, 80, 80, 80, 80], scored: [30, 30, 30, 30, 30] });
    expect(capped.chosen.projection).toBe('lda');
    const whole = await crossValidateSpaces({ vectors, labels, folds: folds(400), foldCount: 5, gram: jsGram(), heldOutRows: 80 });
    const uncapped = await crossValidateSpaces({ vectors, labels, folds: folds(400), foldCount: 5, gram: jsGram(), heldOutRows: 0 });
    expect(whole.held_out!.scored).toEqual([80, 80, 80, 80, 80]);
    expect(whole.table).toEqual(uncapped.table);
  });

  it('streams the products in blocks: any block sizes give the same table', async () => {
    const { vectors, labels } = synthetic(300, 24, 3, 0.4, 5);
    const one = await crossValidateSpaces({ vectors, labels, folds: folds(300), foldCount: 5, gram: jsGram() });
    const blocks = await crossValidateSpaces({ vectors, labels, folds: folds(300), foldCount: 5, gram: jsGram(), block: { queries: 7, rows: 13 } });
    expect(blocks.table).toEqual(one.table);
    const ort = await onnxGram();
    const a = await crossValidateSpaces({ vectors, labels, folds: folds(300), foldCount: 5, gram: ort });
    const b = await crossValidateSpaces({ vectors, labels, folds: folds(300), foldCount: 5, gram: ort, block: { queries: 5, rows: 11 } });
    await ort.close();
    expect(b.chosen).toEqual(a.chosen);
    b.table.forEach((row, i) => expect(Math.abs(row.mean_wf1! - a.table[i].mean_wf1!)).toBeLessThan(0.2));
  });

  it('the native blends top-k (onnxruntime) equals the JavaScript selection', async () => {
    const rand = random(17);
    const [m, n, dim, ldaDim] = [9, 300, 16, 3];
    const unit = (count: number, d: number) => {
      const out = Float32Array.from({ length: count * d }, () => rand());
      for (let r = 0; r < count; r++) {
        const v = out.subarray(r * d, (r + 1) * d);
        const norm = Math.hypot(...v);
        v.forEach((x, j) => (v[j] = x / norm));
      }
      return out;
    };
    const queries = unit(m, dim);
    const rows = unit(n, dim);
    // Rows 0..9 repeated: exact ties, to break to the lower row.
    rows.copyWithin(10 * dim, 0, 10 * dim);
    const groups = [{ blends: [1] }, { blends: [0, 0.4, 0.8], lda: { queries: unit(m, ldaDim), rows: unit(n, ldaDim), dim: ldaDim } }];
    const ort = await onnxGram();
    for (const k of [10, 400]) {
      const native = await ort.blendTopK!(queries, rows, dim, groups, k);
      const js = await blendTopKWithDots(jsGram(), queries, rows, dim, groups, k);
      native.forEach((tops, g) => {
        expect(tops.k).toBe(Math.min(k, n));
        expect(tops.ids.length).toBe(m * groups[g].blends.length * tops.k);
        tops.scores.forEach((s, x) => expect(s).toBeCloseTo(js[g].scores[x], 5));
        // Ids agree except between scores closer than float32 rounding.
        tops.ids.forEach((id, x) => {
          if (id !== js[g].ids[x]) expect(Math.abs(tops.scores[x] - js[g].scores[x])).toBeLessThan(1e-5);
        });
      });
    }
    await ort.close();
  });

  it('onnxruntime and JavaScript products give the same table', async () => {
    const { vectors, labels } = synthetic(300, 24, 3, 0.4, 5);
    const ort = await onnxGram();
    const a = await crossValidateSpaces({ vectors, labels, folds: folds(300), foldCount: 5, gram: ort });
    await ort.close();
    const b = await crossValidateSpaces({ vectors, labels, folds: folds(300), foldCount: 5, gram: jsGram() });
    expect(a.chosen).toEqual(b.chosen);
    a.table.forEach((row, i) => expect(Math.abs(row.mean_wf1! - b.table[i].mean_wf1!)).toBeLessThan(0.5));
  });
});

/**
 * A corpus the test writes: 60 dialogues of 4 turns in 4 emotions, each sentence an emotion phrase on one of several
 * topics, so that both the raw embedding (topic) and the labels (emotion) shape the neighbours; 40% of the phrases
 * are a random emotion's, so the labels are noisy as real annotations are.
 */
function writeCorpus(file: string): void {
  const phrases: Record<string, string[]> = {
    joy: ['I am so happy about', 'What a wonderful surprise,', 'I love it, really love', 'This is the best news about'],
    anger: ['I am furious about', 'How dare you touch', 'This is outrageous, stop ruining', 'I hate what you did to'],
    sadness: ['I feel so sad about', 'I miss it so much,', 'It breaks my heart to lose', 'I cried all night over'],
    neutral: ['Let me tell you about', 'Here is the schedule for', 'I checked the details of', 'We talked earlier about'],
  };
  const topics = ['the new apartment', 'my sister\'s wedding', 'the coffee shop', 'our old car', 'the job interview', 'the dog', 'the football game', 'grandma\'s recipe'];
  const emotions = Object.keys(phrases);
  const rand = random(21);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor((rand() + 0.5) * xs.length)];
  const lines = Array.from({ length: 60 }, (_, d) => JSON.stringify({
    id: `d${d}`, split: 'train',
    turns: Array.from({ length: 4 }, (_, t) => {
      const label = pick(emotions);
      const phrase = rand() + 0.5 < 0.6 ? pick(phrases[label]) : pick(phrases[pick(emotions)]);
      return { speaker: t % 2 ? 'B' : 'A', text: `${phrase} ${pick(topics)} (${d}.${t})`, label };
    }),
  }));
  writeFileSync(file, `${lines.join('\n')}\n`);
}

describe.skipIf(!HAVE_SCIPY)('cross-fitted demonstrations for training utterances (checked against the numpy reference)', () => {
  const dir = tempDir();
  const corpusFile = join(dir, 'corpus.jsonl');
  const indexDir = join(dir, 'index');
  let embedder: Embedder;
  let index: DemoIndex;
  let dialogues: Dialogue[];
  let search: (crossFit: boolean, k: number) => Record<string, [number, number][]>;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    writeCorpus(corpusFile);
    dialogues = loadCorpus({ format: 'jsonl', data: corpusFile, splits: ['train'], name: 'crossfit' }).dialogues;
    embedder = await createEmbedder();
    await buildIndex({ dialogues, corpus: 'crossfit', splits: ['train'], embedder, out: indexDir, projection: { kind: 'lda', shrinkage: 0.1, blend: 0.4 } });
    index = await DemoIndex.open(indexDir, { embedder });
    const vectors = await embedder.embed(index.rows.map((r) => r.text));
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(join(indexDir, 'meta.sqlite'), { readonly: true });
    const folds = (db.prepare('SELECT fold FROM utterances ORDER BY id').all() as { fold: number }[]).map((r) => r.fold);
    db.close();
    search = (crossFit, k) => reference({
      mode: 'search', vectors: vectors.map((v) => Array.from(v)), labels: index.rows.map((r) => r.labels[0]), folds,
      dialogues: index.rows.map((r) => r.dialogue), shrinkage: 0.1, blend: 0.4, k: k + 5, targets: index.rows.map((r) => r.id), cross_fit: crossFit,
    });
    const service = await DemoService.load([indexDir]);
    server = createApp(service).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
  });

  /**
   * `got` is the reference's top-k up to ties: k ids, each scoring at least the reference's k-th score less 1e-4
   * (float32 here, float64 there). `expected` is the reference's top k + 5, with scores.
   */
  function agrees(got: readonly number[], expected: readonly [number, number][]): boolean {
    const k = expected.length - 5;
    const scores = new Map(expected);
    const kth = expected[k - 1][1];
    return got.length === k && got.every((id) => (scores.get(id) ?? -Infinity) >= kth - 1e-4);
  }

  it('the manifest records the folds, and the exported training prompts use the fold spaces by default', async () => {
    expect(index.manifest.cross_fit).toMatchObject({ folds: 5, dims: [3, 3, 3, 3, 3] });
    expect(index.crossFitted).toBe(true);
    const out = join(dir, 'train.jsonl');
    await exportPrompts({ index, embedder, format: FORMATS.get('instructerc')!, dialogues, out, options: { k: 4, strategy: 'topk' } });
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; demonstrations: number[] });
    const crossFitted = search(true, 4);
    const full = search(false, 4);
    expect(lines).toHaveLength(index.rows.length);
    const matches = lines.filter((line, row) => agrees(line.demonstrations, crossFitted[String(row)]));
    expect(matches.length).toBe(lines.length);
    // The check means something: for some utterances the full space (which saw their labels) ranks differently.
    const differ = lines.filter((_, row) => !agrees(full[String(row)].slice(0, 4).map(([id]) => id), crossFitted[String(row)]));
    expect(differ.length).toBeGreaterThan(0);
  });

  it('switched off, the export uses the full space, as the reference fitted on every row', async () => {
    const out = join(dir, 'train-full.jsonl');
    await exportPrompts({ index, embedder, format: FORMATS.get('instructerc')!, dialogues, out, options: { k: 4, strategy: 'topk', crossFit: false } });
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { demonstrations: number[] });
    const full = search(false, 4);
    expect(lines.filter((line, row) => agrees(line.demonstrations, full[String(row)])).length).toBe(lines.length);
  });

  it('over HTTP: a query naming its indexed dialogue gets the fold space and never its own dialogue; cross_fit=false the full space', async () => {
    const crossFitted = search(true, 5);
    const full = search(false, 5);
    for (const row of index.rows.slice(0, 40)) {
      const url = `${base}/demonstrations?utterance=${encodeURIComponent(row.text)}&k=5&dialogue=${encodeURIComponent(row.dialogue)}`;
      const got = (await (await fetch(url)).json()) as { demonstrations: { id: number; dialogue: string }[] };
      expect(got.demonstrations.every((d) => d.dialogue !== row.dialogue)).toBe(true);
      expect(agrees(got.demonstrations.map((d) => d.id), crossFitted[String(row.id)])).toBe(true);
      const off = (await (await fetch(`${url}&cross_fit=false`)).json()) as { demonstrations: { id: number }[] };
      expect(agrees(off.demonstrations.map((d) => d.id), full[String(row.id)])).toBe(true);
    }
    const bad = await fetch(`${base}/demonstrations?utterance=hi&cross_fit=maybe`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('cross_fit');
  });

  it('POST /prompts for a dialogue the index holds gets the same demonstrations as the export', async () => {
    const d = dialogues[7];
    const response = await fetch(`${base}/prompts`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ format: 'instructerc', dialogue: { id: d.id, turns: d.turns.map((t) => ({ speaker: t.speaker, text: t.text })) }, target: 2, options: { k: 4 } }),
    });
    const body = (await response.json()) as { demonstrations: { id: number }[] };
    const row = index.dialogueRows(d.id)[2];
    expect(agrees(body.demonstrations.map((x) => x.id), search(true, 4)[String(row)])).toBe(true);
  });

  it('eval of the indexed split leaves out each target\'s dialogue and cross-fits it', async () => {
    const on = await evaluateRetrieval(index, embedder, dialogues, { k: 10, search: 'exact' });
    expect(on).toMatchObject({ n: 240, indexed_targets: 240, cross_fitted_targets: 240 });
    const off = await evaluateRetrieval(index, embedder, dialogues, { k: 10, search: 'exact', crossFit: false });
    expect(off).toMatchObject({ indexed_targets: 240, cross_fitted_targets: 0 });
    // The full space saw these labels: its neighbours agree with them more often.
    expect(off.precision_at_k).toBeGreaterThan(on.precision_at_k);
  });
});

const cli = (args: string[]) => runCli(args, 180_000);

describe('erc-demos build --projection auto and eval --split train, as separate processes', () => {
  const dir = tempDir();
  const corpus = join(dir, 'corpus.jsonl');
  const out = join(dir, 'auto');

  it('cross-validates, prints the table and its verdict, and keeps both in the manifest; a corrupted fold file is refused', () => {
    writeCorpus(corpus);
    const built = cli(['build', '--corpus', 'jsonl', '--data', corpus, '--corpus-name', 'written', '--out', out]);
    expect(built.code).toBe(0);
    expect(built.stderr).toMatch(/space chosen by 5-fold cross-validation by dialogue \(kNN k=10/);
    expect(built.stderr).toMatch(/raw +\d+\.\d\d/);
    expect(built.stderr).toMatch(/lda s=0\.3 b=0\.8 +\d+\.\d\d/);
    expect(built.stderr).toMatch(/-> (raw|lda s=[\d.]+ b=[\d.]+): /);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.space_selection).toMatchObject({ method: 'cross-validation', folds: 5, k: 10 });
    expect(manifest.space_selection.table).toHaveLength(11);
    for (const row of manifest.space_selection.table) expect(row.fold_wf1).toHaveLength(5);
    const chosen = manifest.space_selection.chosen;
    if (chosen.projection === 'none') expect(manifest.projection).toBeNull();
    else {
      expect(manifest.projection).toMatchObject({ shrinkage: chosen.shrinkage, blend: chosen.blend });
      expect(manifest.cross_fit).toMatchObject({ folds: 5 });
      writeFileSync(join(out, 'crossfit.f32'), 'short');
      const refused = cli(['query', '--index', out, 'hello']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/crossfit\.f32 does not match its checksum/);
    }
  });

  it('forced LDA is recorded as forced; eval --split train --json reports the indexed, cross-fitted targets', () => {
    const forced = join(dir, 'forced');
    const built = cli(['build', '--corpus', 'jsonl', '--data', corpus, '--corpus-name', 'written', '--out', forced, '--lda-blend', '0.4']);
    expect(built.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(forced, 'manifest.json'), 'utf8'));
    expect(manifest.space_selection).toEqual({ method: 'forced', reason: '--projection lda (shrinkage 0.1, blend 0.4)' });
    const evaluated = cli(['eval', '--index', forced, '--corpus', 'jsonl', '--data', corpus, '--corpus-name', 'written', '--split', 'train', '--json']);
    expect(evaluated.code).toBe(0);
    expect(JSON.parse(evaluated.stdout)).toMatchObject({ split: 'train', n: 240, indexed_targets: 240, cross_fitted_targets: 240 });
    const off = cli(['eval', '--index', forced, '--corpus', 'jsonl', '--data', corpus, '--corpus-name', 'written', '--split', 'train', '--json', '--no-cross-fit']);
    expect(JSON.parse(off.stdout)).toMatchObject({ indexed_targets: 240, cross_fitted_targets: 0 });
  });

  it('a multi-label corpus keeps the raw space and says why', () => {
    const multi = join(dir, 'multi.jsonl');
    writeFileSync(multi, Array.from({ length: 30 }, (_, d) => JSON.stringify({
      id: `m${d}`, turns: [{ speaker: 'A', text: `tweet number ${d} is great`, labels: d % 2 ? ['joy', 'love'] : ['anger'] }, { speaker: 'B', text: `reply ${d}`, labels: ['sadness'] }],
    })).join('\n') + '\n');
    const built = cli(['build', '--corpus', 'jsonl', '--data', multi, '--out', join(dir, 'multi')]);
    expect(built.code).toBe(0);
    expect(built.stderr).toMatch(/space: raw \(multi-label corpus/);
    const manifest = JSON.parse(readFileSync(join(dir, 'multi', 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ projection: null, cross_fit: null, space_selection: { method: 'not-applicable' } });
  });
});
