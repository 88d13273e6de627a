import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import type { Dialogue } from '../src/corpus/types.js';
import { createEmbedder } from '../src/embed/create.js';
import type { Embedder } from '../src/embed/types.js';
import { buildIndex } from '../src/index/build.js';
import { DEFAULT_CROSS_FIT_EF } from '../src/index/fold-space.js';
import { DemoIndex } from '../src/index/open.js';
import { tieAwareHits } from '../src/metrics.js';
import { retrieve, retrieveExact } from '../src/retrieve/retrieve.js';
import type { Demonstration, SelectionOptions } from '../src/retrieve/select.js';
import { DemoService } from '../src/service/service.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { HAVE_SHARED, SHARED_DATA, TINY_BERT, tempDir } from './helpers.js';

/** MELD train (first 60 dialogues) + dev (first 8) where the shared data exists, else the built-in sample corpus. */
function testDialogues(): { dialogues: Dialogue[]; corpus: string; splits: string[]; queries: string[] } {
  if (!HAVE_SHARED) {
    const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
    return { dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], queries: sample.dialogues.slice(0, 10).map((d) => d.turns[0].text) };
  }
  const meld = join(SHARED_DATA, 'meld');
  const train = loadCorpus({ format: 'meld', data: meld, splits: ['train'] }).dialogues.slice(0, 60);
  const dev = loadCorpus({ format: 'meld', data: meld, splits: ['dev'] }).dialogues.slice(0, 8);
  const test = loadCorpus({ format: 'meld', data: meld, splits: ['test'] }).dialogues.slice(0, 6);
  return { dialogues: [...train, ...dev], corpus: 'meld', splits: ['train', 'dev'], queries: test.flatMap((d) => d.turns.map((t) => t.text)) };
}

/**
 * Same demonstrations as exact search: position by position, the row's true similarity equals the exact result's
 * (MELD repeats utterances verbatim, so equal-score rows may swap), with each row once and the same labels.
 */
function expectSameSelection(index: DemoIndex, query: Float32Array, actual: Demonstration[], expected: Demonstration[]): void {
  expect(actual.length).toBe(expected.length);
  expect(new Set(actual.map((d) => d.id)).size).toBe(actual.length);
  actual.forEach((d, i) => {
    const trueScore = index.vector(d.id).reduce((s, x, j) => s + x * query[j], 0);
    expect(trueScore).toBeCloseTo(expected[i].score, 4);
    expect(d.score).toBeCloseTo(expected[i].score, 4);
    // Where the rows differ they must tie: in this index that means the same text said twice.
    if (d.id !== expected[i].id) expect(d.text).toBe(expected[i].text);
  });
}

describe('index build, open and retrieval with the real embedder', () => {
  const dir = tempDir();
  const out = join(dir, 'idx');
  const data = testDialogues();
  let embedder: Embedder;
  let index: DemoIndex;
  let graph: DemoIndex;
  let queries: Float32Array[];

  beforeAll(async () => {
    embedder = await createEmbedder('use-lite');
    await buildIndex({ dialogues: data.dialogues, corpus: data.corpus, splits: data.splits, embedder, out, batchSize: 64 });
    index = await DemoIndex.open(out, { embedder });
    // The same index with the exact fallback off, so every search walks the HNSW graph, and a beam as wide as the
    // index, so the walk is exhaustive: any difference from brute force is then a bug in search or filtering.
    graph = await DemoIndex.open(out, { embedder, exactSearchMaxRows: 0, efSearch: index.manifest.count });
    queries = await embedder.embed(data.queries);
  });

  it('writes one SQLite row per utterance with its metadata, and a manifest', () => {
    const total = data.dialogues.reduce((n, d) => n + d.turns.length, 0);
    expect(index.rows.length).toBe(total);
    expect(index.manifest).toMatchObject({ embedder: { id: 'use-lite', dim: 512 }, count: total, corpus: data.corpus, splits: data.splits });
    expect(Object.keys(index.manifest.checksums).sort()).toEqual(['hnsw.bin', 'meta.sqlite', 'vectors.f32']);
    const d = data.dialogues[1];
    const row = index.rows.find((r) => r.dialogue === d.id && r.turn === 2)!;
    expect(row).toMatchObject({ split: d.split, speaker: d.turns[2].speaker, text: d.turns[2].text, labels: d.turns[2].labels });
    expect(Array.from(index.vector(row.id)).reduce((s, x) => s + x * x, 0)).toBeCloseTo(1, 4);
  });

  it('finds an indexed utterance itself first', async () => {
    const target = index.rows[17];
    const [v] = await embedder.embed([target.text]);
    const [best] = retrieve(index, v, { k: 1, strategy: 'topk' });
    expect(best.text).toBe(target.text);
    expect(best.score).toBeCloseTo(1, 4);
  });

  const cases: [string, (labels: string[]) => SelectionOptions][] = [
    ['top-k', () => ({ k: 10, strategy: 'topk' })],
    ['top-k with a label filter', (labels) => ({ k: 8, strategy: 'topk', labels: [labels[0], labels[2]] })],
    ['top-k from one split', () => ({ k: 6, strategy: 'topk', splits: [data.splits[data.splits.length - 1]] })],
    ['per-label', () => ({ k: 1, strategy: 'per-label' })],
    ['per-label, 2 each, excluding two dialogues', () => ({ k: 2, strategy: 'per-label', excludeDialogues: [data.dialogues[0].id, data.dialogues[3].id] })],
  ];
  for (const [name, options] of cases) {
    it(`${name}: HNSW results equal exact search; at default settings recall >= 0.95`, () => {
      const opts = options(index.manifest.labels);
      let found = 0;
      let total = 0;
      for (const q of queries) {
        const exact = retrieveExact(index, q, opts);
        expectSameSelection(index, q, retrieve(graph, q, opts), exact);
        const approx = retrieve(index, q, opts);
        const kth = exact[exact.length - 1].score;
        found += approx.filter((d) => d.score >= kth - 1e-5).length;
        total += exact.length;
        expect(approx.length).toBe(exact.length);
      }
      expect(found / total).toBeGreaterThanOrEqual(0.95);
    });
  }

  it('filters: labels, split and excluded dialogues hold for every result', () => {
    const labels = index.manifest.labels.slice(0, 2);
    const exclude = [...new Set(index.rows.map((r) => r.dialogue))].slice(0, 5);
    for (const q of queries) {
      for (const source of [index, graph]) {
        const res = retrieve(source, q, { k: 20, strategy: 'topk', labels, splits: [data.splits[0]], excludeDialogues: exclude });
        expect(res.length).toBe(20);
        for (const d of res) {
          expect(labels).toContain(d.label);
          expect(d.split).toBe(data.splits[0]);
          expect(exclude).not.toContain(d.dialogue);
        }
      }
    }
  });

  it('per-label gives the best example of each label, best first', () => {
    for (const q of queries.slice(0, 5)) {
      const res = retrieve(index, q, { k: 1, strategy: 'per-label' });
      expect(res.map((d) => d.label).sort()).toEqual([...index.manifest.labels].filter((l) => index.manifest.label_counts[l]).sort());
      expect(res.map((d) => d.score)).toEqual([...res.map((d) => d.score)].sort((a, b) => b - a));
      for (const d of res) {
        const bestOfLabel = retrieveExact(index, q, { k: 1, strategy: 'topk', labels: [d.label!] })[0];
        expect(d.score).toBeCloseTo(bestOfLabel.score, 4);
      }
    }
  });

  it('excluding a dialogue removes exactly its rows', async () => {
    const target = index.rows[40];
    const [v] = await embedder.embed([target.text]);
    const res = retrieve(index, v, { k: 50, strategy: 'topk', excludeDialogues: [target.dialogue] });
    expect(res.some((d) => d.dialogue === target.dialogue)).toBe(false);
    expect(res[0].score).toBeLessThanOrEqual(retrieve(index, v, { k: 1, strategy: 'topk' })[0].score);
  });

  it('refuses an index built with another embedder or dimension, naming both', async () => {
    await expect(DemoIndex.open(out, { embedder: { id: 'transformers:some/model', dim: 512 } })).rejects.toThrow(
      /built with embedder use-lite \(512 dims\), but this run uses transformers:some\/model \(512 dims\)/,
    );
    await expect(DemoIndex.open(out, { embedder: { id: 'use-lite', dim: 384 } })).rejects.toThrow(/this run uses use-lite \(384 dims\)/);
    await expect(DemoService.load([out], { embedder: `transformers:${TINY_BERT}` })).rejects.toThrow(
      /built with embedder use-lite \(512 dims\), but this run uses transformers:.*tiny-bert; rebuild/,
    );
  });

  it('refuses a corrupted or incomplete index', async () => {
    const copy = join(dir, 'corrupt');
    cpSync(out, copy, { recursive: true });
    const vectors = readFileSync(join(copy, 'vectors.f32'));
    vectors[100] ^= 0xff;
    writeFileSync(join(copy, 'vectors.f32'), vectors);
    await expect(DemoIndex.open(copy)).rejects.toThrow(/vectors\.f32 does not match its checksum/);
    // A manifest rewritten together with a checksum that matches it is still parsed and validated field by field.
    const withSum = (text: string) => {
      writeFileSync(join(copy, 'manifest.json'), text);
      writeFileSync(join(copy, 'manifest.sha256'), `${createHash('sha256').update(text).digest('hex')}  manifest.json\n`);
    };
    withSum('{"format_version": 1');
    await expect(DemoIndex.open(copy)).rejects.toThrow(/manifest\.json is not valid JSON/);
    withSum('{"format_version": 1}');
    await expect(DemoIndex.open(copy)).rejects.toThrow(/manifest\.json is invalid: name/);
    await expect(DemoIndex.open(join(dir, 'missing'))).rejects.toThrow(/no manifest\.json/);
  });

  it('refuses a manifest edited by hand or damaged: a flipped byte in a label name, a changed efSearch, added space, a missing checksum', async () => {
    const original = readFileSync(join(out, 'manifest.json'), 'utf8');
    // The checksum file is the one `sha256sum -c` reads: checked here against the system's reference tool.
    const sumTool = spawnSync('sha256sum', ['-c', 'manifest.sha256'], { cwd: out, encoding: 'utf8' });
    if (!sumTool.error) expect(sumTool.stdout).toContain('manifest.json: OK');
    const tampered = join(dir, 'tampered');
    const label = JSON.parse(original).labels[0] as string;
    const edits = [
      original.replace(`"${label}"`, `"${label.slice(0, -1)}${String.fromCharCode(label.charCodeAt(label.length - 1) ^ 1)}"`),
      original.replace('"efSearch": 128', '"efSearch": 129'),
      original.replace('"count"', ' "count"'),
    ];
    for (const edited of edits) {
      expect(edited).not.toBe(original);
      cpSync(out, tampered, { recursive: true });
      writeFileSync(join(tampered, 'manifest.json'), edited);
      await expect(DemoIndex.open(tampered)).rejects.toThrow(/manifest\.json does not match manifest\.sha256/);
      rmSync(tampered, { recursive: true });
    }
    cpSync(out, tampered, { recursive: true });
    rmSync(join(tampered, 'manifest.sha256'));
    await expect(DemoIndex.open(tampered)).rejects.toThrow(/no manifest\.sha256 .*rebuild the index/);
    rmSync(tampered, { recursive: true });
  });

  it('an interrupted build leaves the previous index intact and no temporary directory', async () => {
    const before = readFileSync(join(out, 'manifest.json'), 'utf8');
    let calls = 0;
    const failing: Embedder = {
      id: embedder.id,
      dim: embedder.dim,
      embed: async (texts) => {
        calls += 1;
        if (calls === 3) throw new Error('simulated crash in the third batch');
        return embedder.embed(texts);
      },
    };
    await expect(buildIndex({ dialogues: data.dialogues, corpus: data.corpus, splits: data.splits, embedder: failing, out, batchSize: 16 }))
      .rejects.toThrow('simulated crash in the third batch');
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).toBe(before);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect((await DemoIndex.open(out, { embedder })).manifest.count).toBe(index.manifest.count);
  });

  it('a later build cleans up after a killed one, and restores an index moved aside before its final rename', async () => {
    const target = join(dir, 'recover');
    const small = data.dialogues.slice(0, 2);
    await buildIndex({ dialogues: small, corpus: data.corpus, splits: data.splits, embedder, out: target });
    const deadPid = 2 ** 22 + 12345; // above Linux's pid_max default range: never a live process
    mkdirSync(`${target}.tmp-${deadPid}-1`);
    writeFileSync(`${target}.tmp-${deadPid}-1/hnsw.bin`, 'half written');
    cpSync(target, `${target}.tmp-${deadPid}-old`, { recursive: true });
    await buildIndex({ dialogues: small, corpus: data.corpus, splits: data.splits, embedder, out: target });
    expect(readdirSync(dir).filter((f) => f.startsWith('recover.tmp-'))).toEqual([]);

    // Killed between the two renames: the good old index sits aside and `out` is gone; opening puts it back.
    renameSync(target, `${target}.tmp-${deadPid}-old`);
    expect((await DemoIndex.open(target, { embedder })).manifest.count).toBe(small.reduce((n, d) => n + d.turns.length, 0));
    expect(readdirSync(dir).filter((f) => f.startsWith('recover.tmp-'))).toEqual([]);
  });
});

describe('an index with the learned (LDA, blended) projection', () => {
  const dir = tempDir();
  const data = testDialogues();

  it('stores the projection with checksums, applies it to queries, and still equals exact search', async () => {
    const embedder = await createEmbedder('use-lite');
    const out = join(dir, 'lda');
    await buildIndex({ dialogues: data.dialogues, corpus: data.corpus, splits: data.splits, embedder, out, projection: { kind: 'lda', shrinkage: 0.1, blend: 0.4 } });
    const index = await DemoIndex.open(out, { embedder });
    const classes = new Set(data.dialogues.flatMap((d) => d.turns.map((t) => t.labels[0]))).size;
    expect(index.manifest.projection).toEqual({ kind: 'lda', dim_in: 512, dim_out: classes - 1, shrinkage: 0.1, blend: 0.4 });
    expect(index.searchDim).toBe(512 + classes - 1);
    expect(Object.keys(index.manifest.checksums)).toContain('projection.f32');
    const graph = await DemoIndex.open(out, { embedder, exactSearchMaxRows: 0, efSearch: index.manifest.count });
    // A stored row is its own best match once its text goes through embedder + projection.
    const row = index.rows[25];
    const [raw] = await embedder.embed([row.text]);
    const q = index.queryVector(raw);
    expect(q.length).toBe(index.searchDim);
    expect(retrieve(index, q, { k: 1, strategy: 'topk' })[0].text).toBe(row.text);
    for (const opts of [{ k: 10, strategy: 'topk' as const }, { k: 1, strategy: 'per-label' as const }]) {
      expectSameSelection(index, q, retrieve(graph, q, opts), retrieveExact(index, q, opts));
    }
    // The reproduction: `blend` edited from 0.4 to 0.9 by hand would silently change every score.
    const manifestText = readFileSync(join(out, 'manifest.json'), 'utf8');
    expect(manifestText).toContain('"blend": 0.4');
    writeFileSync(join(out, 'manifest.json'), manifestText.replace('"blend": 0.4', '"blend": 0.9'));
    await expect(DemoIndex.open(out)).rejects.toThrow(/manifest\.json does not match manifest\.sha256/);
    writeFileSync(join(out, 'manifest.json'), manifestText);
    writeFileSync(join(out, 'projection.f32'), 'short');
    await expect(DemoIndex.open(out)).rejects.toThrow(/projection\.f32 does not match its checksum/);
  });

  it('an indexed utterance is searched in its fold\'s space: a walk over the index\'s graph, scored there', async () => {
    const embedder = await createEmbedder('use-lite');
    const out = join(dir, 'crossfit');
    await buildIndex({ dialogues: data.dialogues, corpus: data.corpus, splits: data.splits, embedder, out, projection: { kind: 'lda', shrinkage: 0.1, blend: 0.4 } });
    const count = data.dialogues.reduce((n, d) => n + d.turns.length, 0);
    // A walk as wide as the index meets every row: the graph path must then equal the exact scan.
    const all = await DemoIndex.open(out, { embedder, exactSearchMaxRows: 0, crossFitEf: count });
    const walked = await DemoIndex.open(out, { embedder, exactSearchMaxRows: 0 });
    expect(all.crossFitted).toBe(true);
    let hits = 0;
    let asked = 0;
    for (const row of all.rows) {
      const space = all.space(row.dialogue);
      expect(space).not.toBe(all);
      const q = space.vector(row.id);
      const own = { excludeDialogues: new Set([row.dialogue]) };
      const exact = space.exactSearch(q, 10, own);
      expect(space.search(q, 10, own)).toEqual(exact);
      const sameLabel = { ...own, labels: new Set(row.labels) };
      expect(space.search(q, 3, sameLabel)).toEqual(space.exactSearch(q, 3, sameLabel));
      hits += tieAwareHits(walked.space(row.dialogue).search(q, 10, own), exact);
      asked += exact.length;
    }
    // The default walk (64 rows kept) finds nearly all of the fold's own 10 best (0.99 on all of MELD train).
    console.log(`[index.test] cross-fitted walk, ef ${DEFAULT_CROSS_FIT_EF}: recall@10 ${(hits / asked).toFixed(4)} over ${all.rows.length} rows`);
    expect(hits / asked).toBeGreaterThan(0.97);
  });
});
