import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import { createEmbedder } from '../src/embed/create.js';
import { capText } from '../src/embed/text-cap.js';
import { buildIndex, type BuildPhase } from '../src/index/build.js';
import { DemoIndex } from '../src/index/open.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { cliAsync, HAVE_SHARED, SHARED_DATA, tempDir } from './helpers.js';

const dir = tempDir('erc-demos-progress-');
const sample = loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' });
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

interface Report { at: number; done: number; total: number; phase: BuildPhase }

/** Every progress report of a build, timed. */
function recorder(): { reports: Report[]; onProgress: (done: number, total: number, phase: BuildPhase) => void } {
  const reports: Report[] = [];
  return { reports, onProgress: (done, total, phase) => reports.push({ at: performance.now(), done, total, phase }) };
}

/** Each phase's reports: starts at 0 or more, ends at its total, never goes back. */
function phases(reports: readonly Report[]): Map<BuildPhase, Report[]> {
  const byPhase = new Map<BuildPhase, Report[]>();
  for (const r of reports) byPhase.set(r.phase, [...(byPhase.get(r.phase) ?? []), r]);
  for (const [, list] of byPhase) {
    expect(list.at(-1)!.done).toBe(list.at(-1)!.total);
    list.forEach((r, i) => i > 0 && expect(r.done).toBeGreaterThanOrEqual(list[i - 1].done));
  }
  return byPhase;
}

describe('a build reports progress in every phase', () => {
  it('metadata, embedding, choosing the space (forced LDA: statistics and fits), graph, cross-fit spaces and writing, in that order', async () => {
    const embedder = await createEmbedder('use-lite');
    const { reports, onProgress } = recorder();
    await buildIndex({ dialogues: sample.dialogues, corpus: 'sample', splits: ['train'], embedder, out: join(dir, 'lda'), projection: { kind: 'lda', shrinkage: 0.1, blend: 0.4 }, batchSize: 32, onProgress });
    const byPhase = phases(reports);
    expect([...byPhase.keys()]).toEqual(['metadata', 'embedding', 'choosing the space', 'graph', 'cross-fit spaces', 'writing']);
    expect(byPhase.get('cross-fit spaces')!.at(-1)!.total).toBe(5 * 100); // every row, in each of the 5 folds' spaces
    // 100 utterances in chunks of 32: a report per chunk, not one at the end.
    expect(byPhase.get('embedding')!.map((r) => r.done)).toEqual([0, 32, 64, 96, 100]);
    expect(byPhase.get('choosing the space')!.length).toBeGreaterThanOrEqual(5 + 1 + 5);
    expect(byPhase.get('writing')!.at(-1)!.total).toBe(6); // graph written, then 5 files checksummed (LDA: projection and cross-fit too)
    await embedder.close?.();
  }, 60_000);

  it.skipIf(!HAVE_SHARED)('MELD dev with --projection auto: the cross-validation reports step by step, no gap over 3 s in any phase', async () => {
    const meld = loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: ['dev'] });
    const embedder = await createEmbedder('use-lite');
    const { reports, onProgress } = recorder();
    const started = performance.now();
    const manifest = await buildIndex({ dialogues: meld.dialogues, corpus: 'meld', splits: ['dev'], embedder, out: join(dir, 'meld-dev'), projection: { kind: 'auto' }, onProgress });
    expect(manifest.space_selection?.method).toBe('cross-validation');
    const byPhase = phases(reports);
    expect([...byPhase.keys()]).toEqual(['metadata', 'embedding', 'choosing the space', 'graph', ...(manifest.cross_fit ? ['cross-fit spaces' as const] : []), 'writing']);
    // 5 folds of statistics, per fold its fits and 1 block of ~220 held-out rows, then 1 + 5 fits of the chosen space.
    expect(byPhase.get('choosing the space')!.at(-1)!.total).toBe(5 + 5 * 2 + 1 + 5);
    const times = [started, ...reports.map((r) => r.at)];
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    expect(Math.max(...gaps)).toBeLessThan(3000);
    await embedder.close?.();
  }, 120_000);

  it('the CLI names each phase as it starts (plain lines when not on a terminal)', async () => {
    const built = await cliAsync(['build', '--corpus', 'jsonl', '--data', SAMPLE_CORPUS, '--corpus-name', 'sample', '--projection', 'lda', '--out', join(dir, 'cli')]);
    expect(built.code, built.stderr).toBe(0);
    const order = ['writing the metadata: 0/100', 'writing the metadata: 100/100', 'embedding (use-lite): 0/100', 'embedding (use-lite): 100/100', 'choosing the space (cross-validation): 0/',
      'building the graph: 100/100', 'cross-fit spaces (each row without its fold): 500/500', 'writing the index: 0/6', 'writing the index: 6/6'];
    const at = order.map((line) => built.stderr.indexOf(line));
    expect(at.every((x) => x >= 0), built.stderr).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  }, 120_000);
});

describe('a cap on the characters an embedder reads (ERC_DEMOS_MAX_EMBED_CHARS), at build and query', () => {
  const longText = sample.dialogues.flatMap((d) => d.turns.map((t) => t.text)).join(' ').repeat(20);

  it('cuts by code points, never inside a surrogate pair', () => {
    expect(capText('abc', 5)).toBe('abc');
    expect(capText('😀😀😀', 2)).toBe('😀😀');
    expect(capText('a😀b', 2)).toBe('a😀');
    expect(capText(`x${'é'.repeat(10)}`, 3)).toBe('xéé');
  });

  it('ordinary text over the cap embeds as its first 10,000 characters do, which is what the model reads anyway', async () => {
    expect(longText.length).toBeGreaterThan(30_000);
    const embedder = await createEmbedder('use-lite');
    expect(embedder.maxChars).toBe(DEFAULT_SETTINGS.maxEmbedChars);
    const [whole, capped, first] = await embedder.embed([longText, longText.slice(0, 10_000), longText.slice(0, 2_000)]);
    expect(dot(whole, capped)).toBeGreaterThan(0.99999);
    expect(dot(whole, first)).toBeGreaterThan(0.99999); // 128 tokens are read: 2000 characters hold them already
    await embedder.close?.();
  }, 60_000);

  it('a lower cap applies to queries too (the same embedder serves both), in the thread and on the worker pool', async () => {
    const settings = { ...DEFAULT_SETTINGS, maxEmbedChars: 40 };
    const text = 'I cannot believe you would do that to me, after everything we went through together.';
    const uncapped = await createEmbedder('use-lite');
    const [full, prefix] = await uncapped.embed([text, text.slice(0, 40)]);
    await uncapped.close?.();
    expect(dot(full, prefix)).toBeLessThan(0.99);
    for (const embedThreads of ['0', '1']) {
      const embedder = await createEmbedder('use-lite', 'serve', { ...settings, embedThreads });
      expect(embedder.maxChars).toBe(40);
      const [a] = await embedder.embed([text]);
      expect(dot(a, prefix)).toBeGreaterThan(0.99999); // the same tokens (a call's packing moves the last float bits)
      await embedder.close?.();
    }
  }, 60_000);

  it('a 5 MB utterance: the build finishes in seconds, counts and lists it, stores it whole, and finds it by its beginning', async () => {
    const huge = `${longText} `.repeat(Math.ceil(5_000_000 / (longText.length + 1))).slice(0, 5_000_000);
    const file = join(dir, 'huge.jsonl');
    const lines = readFileSync(SAMPLE_CORPUS, 'utf8').trim().split('\n');
    const first = JSON.parse(lines[0]) as { turns: { text: string }[] };
    first.turns[1].text = huge;
    writeFileSync(file, [JSON.stringify(first), ...lines.slice(1)].join('\n'));
    const out = join(dir, 'huge-index');
    const started = performance.now();
    const built = await cliAsync(['build', '--corpus', 'jsonl', '--data', file, '--corpus-name', 'sample', '--projection', 'none', '--out', out]);
    const seconds = (performance.now() - started) / 1000;
    expect(built.code, built.stderr).toBe(0);
    expect(seconds).toBeLessThan(60);
    expect(built.stderr).toContain('1 utterance is longer than ERC_DEMOS_MAX_EMBED_CHARS=10000 characters: embedded from the first 10000 (stored whole):');
    expect(built.stderr).toContain('  train/s00 turn 1: 5000000 characters');
    const embedder = await createEmbedder('use-lite');
    const index = await DemoIndex.open(out, { embedder });
    expect(index.manifest.truncated_rows).toBe(1);
    expect(index.manifest.embedder.max_chars).toBe(10_000);
    const row = index.rows.find((r) => r.text.length === 5_000_000)!;
    expect(row.text).toBe(huge);
    const [query] = await embedder.embed([huge.slice(0, 10_000)]);
    const [top] = index.search(index.queryVector(query), 1);
    expect(top.id).toBe(row.id);
    expect(top.score).toBeGreaterThan(0.9999);
    await embedder.close?.();
  }, 180_000);
});
