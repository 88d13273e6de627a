import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import type { Dialogue } from '../src/corpus/types.js';
import { createEmbedder } from '../src/embed/create.js';
import type { Embedder } from '../src/embed/types.js';
import { buildIndex } from '../src/index/build.js';
import { retrieve, retrieveExact } from '../src/retrieve/retrieve.js';
import { DemoService } from '../src/service/service.js';
import { recallWithWrites } from './support/written-recall.js';
import { HAVE_SHARED, SHARED_DATA, SHARED_SKIP_REASON, tempDir } from './helpers.js';

/**
 * Search with writes on an index large enough for its graph (over 2000 rows): rows added, relabelled and removed
 * (more removed than a search fetches extra of, so the graph's walk skips them), every strategy against the exact
 * scan of the index as it is now.
 */
describe.skipIf(!HAVE_SHARED)('searching a MELD index with writes: HNSW beside the exact scan', () => {
  const dir = tempDir();
  const out = join(dir, 'meld');
  let embedder: Embedder;
  let service: DemoService;
  let queries: Dialogue[];

  beforeAll(async () => {
    embedder = await createEmbedder('use-lite');
    const meld = loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: ['train'] }).dialogues;
    queries = loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: ['dev'] }).dialogues.slice(0, 12);
    await buildIndex({ dialogues: meld.slice(0, 330), corpus: 'meld', splits: ['train'], embedder, out, name: 'meld', projection: { kind: 'lda', shrinkage: 0.1, blend: 0.4 } });
    service = await DemoService.load([out]);
    await service.addDialogues({ dialogues: meld.slice(330, 360).map((d) => ({ id: d.id, turns: d.turns.map((t) => ({ speaker: t.speaker, text: t.text, label: t.labels[0] })) })) });
    // 100 dialogues removed (several hundred rows: far more than a search fetches extra of), 60 turns relabelled.
    for (const d of meld.slice(0, 100)) await service.removeDialogue({ dialogue: d.id });
    for (const d of meld.slice(100, 160)) await service.relabel({ dialogue: d.id, turn: 0, label: d.turns[0].labels[0] === 'joy' ? 'fear' : 'joy' });
  }, 600_000);
  afterAll(async () => {
    await service?.close();
    await embedder?.close?.();
  });

  it('no removed row ever, relabelled rows under their new label, and recall@10 against the exact scan', async () => {
    const { index } = service.index();
    expect(index.rows.length).toBeGreaterThan(index.exactMaxRows);
    expect(index.writtenState.counts.removed).toBeGreaterThan(200);
    const texts = queries.flatMap((d) => d.turns.map((t) => t.text)).slice(0, 60);
    const vectors = await embedder.embed(texts);
    expect(recallWithWrites(index, vectors, ['joy', 'fear'])).toBeGreaterThan(0.95);
    // A cross-fitted search of an indexed training dialogue too (its fold's space, with writes).
    const kept = index.rows.find((r) => !r.removed && r.id < index.writtenState.builtCount)!;
    const space = index.space(kept.dialogue);
    const own = space.vector(kept.id);
    const got = retrieve(space, own, { k: 10, strategy: 'topk', excludeDialogues: [kept.dialogue] });
    const exact = retrieveExact(space, own, { k: 10, strategy: 'topk', excludeDialogues: [kept.dialogue] });
    expect(got.filter((d) => exact.some((e) => e.id === d.id)).length).toBeGreaterThanOrEqual(9);
    for (const d of got) expect(index.rows[d.id].removed).toBeFalsy();
  });
});
if (!HAVE_SHARED) console.warn(SHARED_SKIP_REASON);
