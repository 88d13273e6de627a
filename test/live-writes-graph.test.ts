import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadCorpus } from '../src/corpus/load.js';
import type { Dialogue } from '../src/corpus/types.js';
import { createEmbedder } from '../src/embed/create.js';
import type { Embedder } from '../src/embed/types.js';
import { buildIndex } from '../src/index/build.js';
import { WRITTEN_GRAPH_MIN_ROWS, WrittenGraph } from '../src/index/written-graph.js';
import { retrieve } from '../src/retrieve/retrieve.js';
import { DemoService } from '../src/service/service.js';
import { recallWithWrites } from './support/written-recall.js';
import { HAVE_SHARED, SHARED_DATA, SHARED_SKIP_REASON, tempDir } from './helpers.js';

/**
 * Past WRITTEN_GRAPH_MIN_ROWS added rows, a space puts them in a graph of their own (filled between requests), so a
 * query's cost stops growing with the rows written: searched through it, with removed and relabelled added rows, every
 * strategy against the exact scan of the index as it is now.
 */
describe.skipIf(!HAVE_SHARED)('searching many added rows through their own graph', () => {
  const out = join(tempDir(), 'meld');
  let embedder: Embedder;
  let service: DemoService;
  let queries: Dialogue[];
  let added: Dialogue[];
  const searched = vi.spyOn(WrittenGraph.prototype, 'search');
  const indexed = vi.spyOn(WrittenGraph.prototype, 'indexed', 'get');

  beforeAll(async () => {
    embedder = await createEmbedder('use-lite');
    const meld = loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: ['train'] }).dialogues;
    queries = loadCorpus({ format: 'meld', data: join(SHARED_DATA, 'meld'), splits: ['dev'] }).dialogues.slice(0, 12);
    await buildIndex({ dialogues: meld.slice(0, 150), corpus: 'meld', splits: ['train'], embedder, out, name: 'meld', projection: { kind: 'lda', shrinkage: 0.1, blend: 0.4 } });
    service = await DemoService.load([out]);
    added = meld.slice(150, 450);
    await service.addDialogues({ dialogues: added.map((d) => ({ id: d.id, turns: d.turns.map((t) => ({ speaker: t.speaker, text: t.text, label: t.labels[0] })) })) });
    for (const d of added.slice(0, 30)) await service.removeDialogue({ dialogue: d.id });
    for (const d of added.slice(30, 60)) await service.relabel({ dialogue: d.id, turn: 0, label: d.turns[0].labels[0] === 'joy' ? 'fear' : 'joy' });
  }, 600_000);
  afterAll(async () => {
    await service?.close();
    await embedder?.close?.();
  });

  it('fills the graph between requests, then answers through it: no removed row, new labels, recall@10 against the exact scan', async () => {
    const { index } = service.index();
    const addedRows = index.writtenState.added.length;
    expect(addedRows).toBeGreaterThan(WRITTEN_GRAPH_MIN_ROWS);
    const [first] = await embedder.embed([queries[0].turns[0].text]);
    // The first search starts the filling; the event loop turns meanwhile, in slices.
    for (let waited = 0; ; waited += 50) {
      indexed.mockClear();
      retrieve(index, index.queryVector(first), { k: 10, strategy: 'topk' });
      const last = indexed.mock.results.at(-1)?.value as number | undefined;
      if (last === addedRows) break;
      expect(waited, `graph holds ${last} of ${addedRows} added rows`).toBeLessThan(120_000);
      await new Promise((r) => setTimeout(r, 50));
    }
    searched.mockClear();
    const texts = queries.flatMap((d) => d.turns.map((t) => t.text)).slice(0, 60);
    const vectors = await embedder.embed(texts);
    expect(recallWithWrites(index, vectors, ['joy', 'neutral'])).toBeGreaterThan(0.95);
    // An added row relabelled, found by its own text under its new label only.
    const relabelled = index.dialogueRows(added[30].id)[0];
    const [own] = await embedder.embed([index.rows[relabelled].text]);
    const label = index.rows[relabelled].labels[0];
    expect(retrieve(index, index.queryVector(own), { k: 1, strategy: 'topk', labels: [label] })[0].id).toBe(relabelled);
    const other = label === 'joy' ? 'fear' : 'joy';
    expect(retrieve(index, index.queryVector(own), { k: 5, strategy: 'topk', labels: [other] }).map((d) => d.id)).not.toContain(relabelled);
    // A removed added row is not found by its own text, though it is in the graph.
    const gone = index.rows.find((r) => r.dialogue === added[0].id)!;
    expect(gone.removed).toBe(true);
    const [its] = await embedder.embed([gone.text]);
    expect(retrieve(index, index.queryVector(its), { k: 10, strategy: 'topk' }).map((d) => d.id)).not.toContain(gone.id);
  }, 300_000);
});
if (!HAVE_SHARED) console.warn(SHARED_SKIP_REASON);
