/**
 * Retrieval quality table for MELD and EmoryNLP: for each configuration, `erc-demos eval` numbers (k=10, exact
 * search) on dev, test and the training split itself (own dialogue left out; cross-fitted, and for the learned
 * spaces also without cross-fitting, to show the leak it removes), the train - test precision gap against the raw
 * space's, written to docs/retrieval-results.md with a bar chart of precision@10 per configuration
 * (docs/retrieval-precision.svg). Builds the train indexes it needs under indexes/ when they are missing.
 *   npx tsx scripts/research/quality-report.ts [--data ../shared/data]
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runBuild } from '../../src/cli/build-index.js';
import { loadCorpus, type CorpusFormat } from '../../src/corpus/load.js';
import { evaluateRetrieval, type EvalResult } from '../../src/eval/evaluate.js';
import { DemoService } from '../../src/service/service.js';

const { values } = parseArgs({ options: { data: { type: 'string', default: '../shared/data' } } });
const CORPORA: CorpusFormat[] = ['meld', 'emorynlp'];
const CONFIGS = [
  { name: 'baseline: raw USE-lite space', suffix: '-raw', projection: 'none' as const },
  { name: 'default: auto (cross-validated)', suffix: '-auto', projection: 'auto' as const },
  { name: 'LDA s=0.1 blended b=0.4 (forced)', suffix: '-lda-blend', projection: 'lda' as const, blend: 0.4 },
];
/** The training split as a target: own dialogue left out, cross-fitted (the default) or in the full space. */
const SPLITS = [
  { split: 'dev', label: 'dev', crossFit: true },
  { split: 'test', label: 'test', crossFit: true },
  { split: 'train', label: 'train (cross-fitted)', crossFit: true },
  { split: 'train', label: 'train (full space)', crossFit: false },
];

interface Row { corpus: string; config: string; split: string; result: EvalResult }
const rows: Row[] = [];
for (const corpus of CORPORA) {
  const data = join(values.data!, corpus);
  for (const config of CONFIGS) {
    const dir = join('indexes', `${corpus}-train-use-lite${config.suffix}`);
    if (!existsSync(join(dir, 'manifest.json'))) {
      await runBuild({ format: corpus, data, splits: ['train'], embedder: 'use-lite', out: dir, name: corpus, batchSize: 1024, projection: config.projection, ldaBlend: config.blend });
    }
    const service = await DemoService.load([dir]);
    const { index } = service.index();
    for (const { split, label, crossFit } of SPLITS) {
      if (!crossFit && !index.crossFitted) continue; // the raw space has nothing fitted: one train row says it all
      const dialogues = loadCorpus({ format: corpus, data, splits: [split] }).dialogues;
      const result = await evaluateRetrieval(index, service.embedderFor(index), dialogues, { k: 10, search: 'exact', crossFit });
      rows.push({ corpus, config: config.name, split: label, result });
      console.error(`${corpus} ${config.name} ${label}: W-F1 ${result.knn_weighted_f1} P@10 ${result.precision_at_k}`);
    }
    await service.close();
  }
}

const table = [
  '| corpus | configuration | split | kNN W-F1 | accuracy | macro-F1 | precision@10 | HNSW recall@10 |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map(({ corpus, config, split, result: r }) => `| ${corpus} | ${config} | ${split} | ${r.knn_weighted_f1.toFixed(2)} | ${r.accuracy.toFixed(2)} | ${r.macro_f1.toFixed(2)} | ${r.precision_at_k.toFixed(2)} | ${r.hnsw_recall_at_k.toFixed(4)} |`),
].join('\n');
// Train - test precision@10 per configuration, and how far that exceeds the raw space's own difference.
const p10 = (corpus: string, config: string, split: string) => rows.find((r) => r.corpus === corpus && r.config === config && r.split === split)?.result.precision_at_k;
const gapLines = CORPORA.flatMap((corpus) => {
  const rawGap = p10(corpus, CONFIGS[0].name, 'train (cross-fitted)')! - p10(corpus, CONFIGS[0].name, 'test')!;
  return CONFIGS.flatMap((c) => ['train (cross-fitted)', 'train (full space)'].flatMap((split) => {
    const train = p10(corpus, c.name, split);
    const test = p10(corpus, c.name, 'test');
    if (train === undefined || test === undefined || (c.projection === 'none' && split !== 'train (cross-fitted)')) return [];
    const gap = train - test;
    return [`| ${corpus} | ${c.name} | ${split.replace('train ', '')} | ${train.toFixed(2)} | ${test.toFixed(2)} | ${gap.toFixed(2)} | ${(gap - rawGap).toFixed(2)} |`];
  }));
});
const gaps = [
  '| corpus | configuration | training targets | train P@10 | test P@10 | train - test | excess over raw |',
  '|---|---|---|---|---|---|---|',
  ...gapLines,
].join('\n');
writeFileSync('docs/retrieval-results.md', `# Retrieval quality (generated)\n\nWritten by \`npx tsx scripts/research/quality-report.ts\` on ${new Date().toISOString().slice(0, 10)}; k=10, exact search, metrics as defined in docs/RETRIEVAL-QUALITY.md. Training-split targets never see their own dialogue; "cross-fitted" searches them in the space fitted without their fold (the default), "full space" in the index's own (the raw space has nothing fitted: its one training row is its reference).\n\n${table}\n\n## Train - test precision gap\n\n${gaps}\n\n![precision@10 per configuration](retrieval-precision.svg)\n`);

// A plain SVG bar chart: one group per corpus and split, one bar per configuration.
const groups = rows.filter((r) => r.config === CONFIGS[0].name).map((r) => `${r.corpus} ${r.split}`);
const barW = 36;
const gap = 30;
const height = 260;
const scale = (v: number) => (v / 60) * (height - 60);
const colours = ['#8c8c8c', '#2f6db5', '#e07b39'];
const bars = groups.flatMap((g, gi) => CONFIGS.map((c, ci) => {
  const r = rows.find((x) => `${x.corpus} ${x.split}` === g && x.config === c.name)!;
  const x = 50 + gi * (CONFIGS.length * barW + gap) + ci * barW;
  const h = scale(r.result.precision_at_k);
  return `<rect x="${x}" y="${height - 30 - h}" width="${barW - 4}" height="${h}" fill="${colours[ci]}"/><text x="${x + (barW - 4) / 2}" y="${height - 34 - h}" font-size="10" text-anchor="middle">${r.result.precision_at_k.toFixed(1)}</text>`;
}));
const labels = groups.map((g, gi) => `<text x="${50 + gi * (CONFIGS.length * barW + gap) + (CONFIGS.length * barW) / 2}" y="${height - 12}" font-size="11" text-anchor="middle">${g}</text>`);
const legend = CONFIGS.map((c, ci) => `<rect x="50" y="${8 + ci * 14}" width="10" height="10" fill="${colours[ci]}"/><text x="64" y="${17 + ci * 14}" font-size="11">${c.name}</text>`);
const width = 60 + groups.length * (CONFIGS.length * barW + gap);
writeFileSync('docs/retrieval-precision.svg', `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">\n<text x="8" y="60" font-size="11">precision@10 (%)</text>\n${bars.join('\n')}\n${labels.join('\n')}\n${legend.join('\n')}\n<line x1="45" y1="${height - 30}" x2="${width}" y2="${height - 30}" stroke="#000"/>\n</svg>\n`);
console.log(table);
console.log(gaps);
