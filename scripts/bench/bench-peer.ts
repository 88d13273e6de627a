/**
 * The peer for scripts/bench/bench.ts: LangChain.js' SemanticSimilarityExampleSelector over a MemoryVectorStore, with the
 * same USE-lite model, behind an express endpoint as thin as ours (GET /demonstrations?utterance=&k=). Documents
 * are embedded once at start (their vectors are read from our index's vectors.f32 to save the peer the build; the
 * same model made them); every query is embedded live, as ours are.
 *   npx tsx scripts/bench/bench-peer.ts --index <dir> --port <n>
 */
import { parseArgs } from 'node:util';
import { Embeddings } from '@langchain/core/embeddings';
import { SemanticSimilarityExampleSelector } from '@langchain/core/example_selectors';
import express from 'express';
import { MemoryVectorStore } from 'langchain/vectorstores/memory';
import { createEmbedder } from '../../src/embed/create.js';
import { DemoIndex } from '../../src/index/open.js';

const { values } = parseArgs({ options: { index: { type: 'string' }, port: { type: 'string', default: '0' } } });
const index = await DemoIndex.open(values.index!);
if (index.manifest.projection) throw new Error('the peer compares raw embeddings: give an index built with --projection none');
const model = await createEmbedder(undefined, 'serve'); // the service's own embedder and threads: only the retrieval layer differs
const known = new Map(index.rows.map((r) => [r.text, Array.from(index.vector(r.id))]));

class UseLiteEmbeddings extends Embeddings {
  async embedDocuments(texts: string[]): Promise<number[][]> {
    const missing = texts.filter((t) => !known.has(t));
    const fresh = await model.embed(missing);
    missing.forEach((t, i) => known.set(t, Array.from(fresh[i])));
    return texts.map((t) => known.get(t)!);
  }

  async embedQuery(text: string): Promise<number[]> {
    const [v] = await model.embed([text]);
    return Array.from(v);
  }
}

const examples = index.rows.map((r) => ({ text: r.text, label: r.labels[0] ?? '', id: String(r.id) }));
const store = await MemoryVectorStore.fromTexts(examples.map((e) => e.text), examples.map((e) => ({ label: e.label, id: e.id })), new UseLiteEmbeddings({}));

const app = express();
app.get('/demonstrations', async (req, res) => {
  const utterance = String(req.query.utterance ?? '');
  const k = Number(req.query.k ?? 5);
  if (!utterance || !(k >= 1 && k <= 100)) {
    res.status(400).json({ error: 'bad request' });
    return;
  }
  const started = performance.now();
  const selector = new SemanticSimilarityExampleSelector({ vectorStore: store, k, inputKeys: ['utterance'] });
  const demonstrations = await selector.selectExamples({ utterance });
  res.json({ took_ms: performance.now() - started, demonstrations });
});
const server = app.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address();
  console.error(`peer listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : values.port}`);
});
