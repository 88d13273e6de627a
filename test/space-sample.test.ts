import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import type { Dialogue } from '../src/corpus/types.js';
import { createEmbedder } from '../src/embed/create.js';
import type { Embedder } from '../src/embed/types.js';
import { buildIndex, SPACE_SAMPLE_SEED, spaceSampleRows } from '../src/index/build.js';
import { FILES } from '../src/index/manifest.js';
import { DemoIndex } from '../src/index/open.js';
import { SAMPLE_CORPUS } from '../src/paths.js';
import { HAVE_SHARED, SHARED_DATA, tempDir } from './helpers.js';

const dir = tempDir();

/** MELD train's first 150 dialogues where the shared data exists (about 1400 utterances), else the sample corpus. */
function corpus(): { dialogues: Dialogue[]; name: string } {
  if (!HAVE_SHARED) return { dialogues: loadCorpus({ format: 'jsonl', data: SAMPLE_CORPUS, splits: ['train'], name: 'sample' }).dialogues, name: 'sample' };
  return { dialogues: loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: ['train'] }).dialogues.slice(0, 150), name: 'meld' };
}

describe('spaceSampleRows: the dialogues a large corpus\'s space is fitted on', () => {
  const dialogues: Dialogue[] = Array.from({ length: 50 }, (_, d) => ({
    id: `d${d}`, corpus: 'c', split: 'train', turns: Array.from({ length: 1 + (d % 7) }, (__, t) => ({ index: t, speaker: 'A', text: `t${d}.${t}`, labels: ['x'] })),
  }));
  const total = dialogues.reduce((n, d) => n + d.turns.length, 0);
  const firstRow = new Map<number, string>();
  let at = 0;
  for (const d of dialogues) for (const _ of d.turns) firstRow.set(at++, d.id);

  it('none at or under the cap, or with cap 0: every row is used', () => {
    expect(spaceSampleRows(dialogues, total)).toBeUndefined();
    expect(spaceSampleRows(dialogues, 0)).toBeUndefined();
  });

  it('whole dialogues, at least the cap and less than one dialogue over, ascending, the same for the same seed', () => {
    const sample = spaceSampleRows(dialogues, 60)!;
    expect(sample.rows.length).toBeGreaterThanOrEqual(60);
    expect(sample.rows.length).toBeLessThan(60 + 7);
    expect([...sample.rows].sort((a, b) => a - b)).toEqual(sample.rows);
    const taken = new Set(sample.rows.map((r) => firstRow.get(r)));
    expect(taken.size).toBe(sample.dialogues);
    for (const d of dialogues) {
      const rows = [...firstRow].filter(([, id]) => id === d.id).map(([r]) => r);
      expect(rows.every((r) => sample.rows.includes(r)) || rows.every((r) => !sample.rows.includes(r))).toBe(true);
    }
    expect(spaceSampleRows(dialogues, 60, SPACE_SAMPLE_SEED)).toEqual(sample);
    expect(spaceSampleRows(dialogues, 60, SPACE_SAMPLE_SEED + 1)!.rows).not.toEqual(sample.rows);
  });
});

describe('a build whose corpus is over ERC_DEMOS_SPACE_FIT_ROWS', () => {
  let embedder: Embedder;
  const { dialogues, name } = corpus();
  const count = dialogues.reduce((n, d) => n + d.turns.length, 0);
  const cap = Math.floor(count / 2);
  beforeAll(async () => {
    embedder = await createEmbedder('use-lite');
  });
  afterAll(async () => embedder.close?.());

  it('fits its LDA space on a seeded sample, records it, and still indexes, searches and cross-fits every row', async () => {
    const lda = { kind: 'lda' as const, shrinkage: 0.1, blend: 0.4 };
    const build = (out: string, spaceFitRows: number) => buildIndex({ dialogues, corpus: name, splits: ['train'], embedder, out: join(dir, out), projection: lda, spaceFitRows });
    const sampled = await build('sampled', cap);
    const again = await build('again', cap);
    const whole = await build('whole', 0);
    const expected = spaceSampleRows(dialogues, cap)!;
    expect(sampled.space_sample).toEqual({ rows: expected.rows.length, of: count, dialogues: expected.dialogues, seed: SPACE_SAMPLE_SEED });
    expect(whole.space_sample).toBeNull();
    expect(sampled.count).toBe(count);
    // The map comes from the sample: the same for the same seed, not the one fitted on every row.
    const projection = (out: string) => readFileSync(join(dir, out, FILES.projection));
    expect(projection('again').equals(projection('sampled'))).toBe(true);
    expect(projection('whole').equals(projection('sampled'))).toBe(false);
    expect(sampled.cross_fit?.folds).toBe(5);

    // Every row is in the graph (rows outside the sample went in as they were embedded): each finds itself.
    const index = await DemoIndex.open(join(dir, 'sampled'), { embedder, exactSearchMaxRows: 0, efSearch: count });
    const inSample = new Set(expected.rows);
    const outside = index.rows.filter((r) => !inSample.has(r.id));
    expect(outside.length).toBeGreaterThan(0);
    for (const row of [...outside.slice(0, 40), ...index.rows.filter((r) => inSample.has(r.id)).slice(0, 40)]) {
      const hits = index.search(index.vector(row.id), 1);
      expect(hits[0].score).toBeCloseTo(1, 4);
      // The graph's 5 best score as the exact scan's (MELD repeats utterances verbatim, so equal scores may swap).
      const exact = index.exactSearch(index.vector(row.id), 5);
      index.search(index.vector(row.id), 5).forEach((h, i) => expect(h.score).toBeCloseTo(exact[i].score, 5));
      // A row outside the sample has its fold's space too.
      expect(index.space(row.dialogue)).not.toBe(index);
    }
  }, 240_000);
});
