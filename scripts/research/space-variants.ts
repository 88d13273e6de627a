/**
 * Variants of choosing the space that did not make it, kept so that their numbers can be rerun
 * (docs/RETRIEVAL-QUALITY.md, "Every variant tried"): a finer shrinkage grid, other fold seeds, and bagging the
 * five fold spaces (the LDA cosine averaged over the five maps fitted without one fold each) instead of one map
 * fitted on all training rows. Prints, per candidate, the cross-validated W-F1 and the dev and test W-F1 of the
 * candidate fitted on all training rows (k=10, exact search).
 *   npx tsx scripts/research/space-variants.ts meld|emorynlp [--data ../shared/data]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCorpus, type CorpusFormat } from '../../src/corpus/load.js';
import { createEmbedder } from '../../src/embed/create.js';
import { combineStatistics, fitLdaFromStatistics, ldaStatistics } from '../../src/embed/lda.js';
import { project, type Projection } from '../../src/embed/projection.js';
import { classificationReport, weightedVote } from '../../src/metrics.js';
import { candidateName, crossValidateSpaces, flat, topKBlends, type SpaceCandidate } from '../../src/index/choose-space.js';
import { assignFolds } from '../../src/index/folds.js';
import { onnxGram } from '../../src/index/gram.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { data: { type: 'string', default: '../shared/data' } } });
const corpus = (positionals[0] ?? 'emorynlp') as CorpusFormat;
const embedder = await createEmbedder('use-lite', 'batch');
const gram = await onnxGram();
const load = async (split: string) => {
  const turns = loadCorpus({ format: corpus, data: join(values.data!, corpus), splits: [split] }).dialogues.flatMap((d) => d.turns.map((t) => ({ t, d: d.id })));
  return { vectors: await embedder.embed(turns.map((x) => x.t.text)), labels: turns.map((x) => x.t.labels[0]), dialogues: turns.map((x) => x.d) };
};
const train = await load('train');
const held = { dev: await load('dev'), test: await load('test') };
const labelSet = [...new Set(train.labels)].sort();
const BLENDS = [0, 0.2, 0.4, 0.6, 0.8];
const SHRINKAGES = [0.05, 0.1, 0.2, 0.3, 0.5];
const candidates: SpaceCandidate[] = [{ projection: 'none' }, ...SHRINKAGES.flatMap((shrinkage) => BLENDS.map((blend) => ({ projection: 'lda' as const, shrinkage, blend })))];

/** kNN W-F1 of a held-out split against all training rows, for each blend of LDA cosines `lda` (m x n). */
async function heldOutWf1(set: typeof train, lda: Float32Array): Promise<number[]> {
  const raw = await gram.dots(flat(set.vectors, 512), flat(train.vectors, 512), 512);
  const n = train.vectors.length;
  const predictions = BLENDS.map(() => [] as string[]);
  for (let q = 0; q < set.vectors.length; q++) {
    topKBlends(raw.subarray(q * n, (q + 1) * n), lda.subarray(q * n, (q + 1) * n), BLENDS, 10).forEach((top, c) => {
      predictions[c].push(weightedVote(Array.from({ length: top.size }, (_, x) => ({ label: train.labels[top.ids[x]], score: top.scores[x] }))) ?? '');
    });
  }
  return predictions.map((p) => classificationReport(set.labels, p, labelSet).weighted_f1);
}

async function ldaCosines(set: typeof train, maps: readonly Projection[]): Promise<Float32Array> {
  const sum = new Float32Array(set.vectors.length * train.vectors.length);
  for (const p of maps) {
    const d = await gram.dots(flat(set.vectors.map((v) => project(p, v)), p.dimOut), flat(train.vectors.map((v) => project(p, v)), p.dimOut), p.dimOut);
    for (let i = 0; i < d.length; i++) sum[i] += d[i] / maps.length;
  }
  return sum;
}

for (const seed of [1, 2, 3]) {
  const folds = assignFolds(train.dialogues, 5, seed);
  const choice = await crossValidateSpaces({ vectors: train.vectors, labels: train.labels, folds: train.dialogues.map((d) => folds.get(d)!), foldCount: 5, gram, candidates });
  console.log(`\n${corpus}, fold seed ${seed}: cross-validated W-F1 per candidate; chosen ${candidateName(choice.chosen)} (${choice.reason})`);
  console.log(choice.table.map((r) => `${candidateName(r.candidate)} ${r.mean_wf1}`).join(' | '));
}

const folds = assignFolds(train.dialogues, 5, 1);
const fold = train.dialogues.map((d) => folds.get(d)!);
const stats = [0, 1, 2, 3, 4].map((f) => ldaStatistics(train.vectors.filter((_, i) => fold[i] === f), train.labels.filter((_, i) => fold[i] === f)));
console.log(`\n${corpus}: W-F1 of each space fitted on all training rows (one map) or bagged (five fold maps), blends ${BLENDS.join(' / ')}`);
for (const s of SHRINKAGES) {
  const one = [fitLdaFromStatistics(combineStatistics(stats), s, 0)];
  const bag = [0, 1, 2, 3, 4].map((f) => fitLdaFromStatistics(combineStatistics(stats.filter((_, g) => g !== f)), s, 0));
  for (const [name, set] of Object.entries(held)) {
    console.log(`s=${s} ${name} one map ${(await heldOutWf1(set, await ldaCosines(set, one))).join(' / ')}; bagged ${(await heldOutWf1(set, await ldaCosines(set, bag))).join(' / ')}`);
  }
}
const raw = await heldOutWf1(held.test, new Float32Array(held.test.vectors.length * train.vectors.length));
console.log(`raw space test W-F1 ${raw[BLENDS.length - 1]} (blend 0.8 of a zero LDA part ranks as raw)`);
await embedder.close?.();
await gram.close();
