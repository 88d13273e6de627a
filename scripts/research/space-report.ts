/**
 * Does `--projection auto` generalise beyond the corpora its defaults were first chosen on? For every corpus this
 * project can load, including JSONL corpora this script writes from the shared data with other label schemes and
 * sizes, it builds the training split with `auto` and with `none` (the raw space) and compares test kNN W-F1 and
 * precision@10 (k=10, exact search), with the space auto chose and why. Writes docs/space-results.md.
 *   npx tsx scripts/research/space-report.ts [--data ../shared/data] [--only meld,emorynlp,...]
 * The constructed corpora live in a temporary directory (never in the repo):
 *   meld-sentiment      MELD's dialogues, labelled with MELD's own Sentiment column (3 classes)
 *   emorynlp-sentiment  EmoryNLP's 7 emotions folded into positive / negative / neutral
 *   meld-small          120 MELD training dialogues (~1.2k utterances): the small-data regime
 *   semeval-single      SemEval-2018 E-c tweets with exactly one emotion (train; its dev split as test)
 *   sample              the project's own 100-utterance sample (train only: the decision alone)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runBuild } from '../../src/cli/build-index.js';
import { readCsv } from '../../src/corpus/csv.js';
import { loadCorpus, type CorpusFormat } from '../../src/corpus/load.js';
import type { Dialogue } from '../../src/corpus/types.js';
import { evaluateRetrieval, type EvalResult } from '../../src/eval/evaluate.js';
import { candidateName } from '../../src/index/choose-space.js';
import type { Manifest } from '../../src/index/manifest.js';
import { SAMPLE_CORPUS } from '../../src/paths.js';
import { DemoService } from '../../src/service/service.js';

const { values } = parseArgs({ options: { data: { type: 'string', default: '../shared/data' }, only: { type: 'string' } } });
const data = values.data!;
const work = mkdtempSync(join(tmpdir(), 'erc-space-report-'));

interface Corpus { name: string; format: CorpusFormat; data: string; corpusName?: string; test?: string }

/** One JSONL line per dialogue, as docs/CORPUS-FORMAT.md defines. */
function writeJsonl(file: string, dialogues: readonly { id: string; split: string; turns: { speaker: string; text: string; label: string }[] }[]): string {
  writeFileSync(file, dialogues.map((d) => JSON.stringify(d)).join('\n') + '\n');
  return file;
}

function meldSentiment(): string {
  const dialogues = ['train', 'test'].flatMap((split) => {
    const byDialogue = new Map<string, { speaker: string; text: string; label: string; order: number }[]>();
    for (const row of readCsv(join(data, 'meld', `${split}_sent_emo.csv`), { required: ['Utterance', 'Speaker', 'Sentiment', 'Dialogue_ID', 'Utterance_ID'] })) {
      if (!row.fields.Utterance.trim()) continue;
      const list = byDialogue.get(row.fields.Dialogue_ID) ?? [];
      list.push({ speaker: row.fields.Speaker, text: row.fields.Utterance.trim(), label: row.fields.Sentiment.trim(), order: Number(row.fields.Utterance_ID) });
      byDialogue.set(row.fields.Dialogue_ID, list);
    }
    return [...byDialogue].map(([id, turns]) => ({ id, split, turns: turns.sort((a, b) => a.order - b.order).map(({ speaker, text, label }) => ({ speaker, text, label })) }));
  });
  return writeJsonl(join(work, 'meld-sentiment.jsonl'), dialogues);
}

/** A loaded corpus rewritten as JSONL, labels mapped (first label) and dialogues optionally cut. */
function rewrite(name: string, dialogues: readonly Dialogue[], label: (l: string) => string, keep = (_: Dialogue, __: number) => true): string {
  return writeJsonl(join(work, `${name}.jsonl`), dialogues.filter(keep).filter((d) => d.turns.some((t) => t.labels.length === 1)).map((d) => ({
    id: d.id.replace(/^[^/]+\//, ''), split: d.split,
    turns: d.turns.filter((t) => t.labels.length === 1).map((t) => ({ speaker: t.speaker, text: t.text, label: label(t.labels[0]) })),
  })));
}

const SENTIMENT: Record<string, string> = { Joyful: 'positive', Peaceful: 'positive', Powerful: 'positive', Mad: 'negative', Sad: 'negative', Scared: 'negative', Neutral: 'neutral' };

const corpora: Corpus[] = [
  { name: 'meld', format: 'meld', data: join(data, 'meld') },
  { name: 'emorynlp', format: 'emorynlp', data: join(data, 'emorynlp') },
  { name: 'meld-sentiment', format: 'jsonl', data: '', corpusName: 'meld-sentiment' },
  { name: 'emorynlp-sentiment', format: 'jsonl', data: '', corpusName: 'emorynlp-sentiment' },
  { name: 'meld-small', format: 'jsonl', data: '', corpusName: 'meld-small' },
  { name: 'semeval-single', format: 'jsonl', data: '', corpusName: 'semeval-single', test: 'dev' },
  { name: 'sample', format: 'jsonl', data: SAMPLE_CORPUS, corpusName: 'sample-corpus' },
];
const writers: Record<string, () => string> = {
  'meld-sentiment': meldSentiment,
  'emorynlp-sentiment': () => rewrite('emorynlp-sentiment', loadCorpus({ format: 'emorynlp', data: join(data, 'emorynlp'), splits: ['train', 'test'] }).dialogues, (l) => SENTIMENT[l]),
  'meld-small': () => rewrite('meld-small', loadCorpus({ format: 'meld', data: join(data, 'meld'), splits: ['train', 'test'] }).dialogues, (l) => l,
    (d) => d.split === 'test' || Number(d.id.split('/')[1]) < 120),
  'semeval-single': () => rewrite('semeval-single', loadCorpus({ format: 'semeval-ec', data: join(data, 'semeval2018-ec'), splits: ['train', 'dev'] }).dialogues, (l) => l),
};

interface Row { corpus: string; train: number; space: string; reason: string; cvSeconds: number | null; auto?: EvalResult; raw?: EvalResult }
const rows: Row[] = [];
const only = values.only?.split(',');
try {
  for (const c of corpora.filter((x) => !only || only.includes(x.name))) {
    const file = c.data || writers[c.name]();
    const build = (projection: 'auto' | 'none') => runBuild({
      format: c.format, data: file, splits: ['train'], embedder: 'use-lite', out: join(work, `${c.name}-${projection}`), name: c.name,
      corpusName: c.corpusName, batchSize: 1024, projection,
    });
    const auto: Manifest = await build('auto');
    const selection = auto.space_selection!;
    const row: Row = {
      corpus: c.name, train: auto.count, space: auto.projection ? candidateName({ projection: 'lda', shrinkage: auto.projection.shrinkage, blend: auto.projection.blend }) : 'raw',
      reason: selection.reason, cvSeconds: selection.method === 'cross-validation' ? selection.seconds : null,
    };
    const testSplit = c.test ?? 'test';
    const test = c.name === 'sample' ? [] : loadCorpus({ format: c.format, data: file, splits: [testSplit], name: c.corpusName }).dialogues;
    if (test.length > 0) {
      await build('none');
      for (const projection of ['auto', 'none'] as const) {
        const service = await DemoService.load([join(work, `${c.name}-${projection}`)]);
        const { index } = service.index();
        row[projection === 'auto' ? 'auto' : 'raw'] = await evaluateRetrieval(index, service.embedderFor(index), test, { k: 10, search: 'exact' });
        await service.close();
      }
    }
    rows.push(row);
    console.error(`${c.name}: ${row.space}; test W-F1 auto ${row.auto?.knn_weighted_f1 ?? '-'} raw ${row.raw?.knn_weighted_f1 ?? '-'}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const f = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(2));
const table = [
  '| corpus | training utterances | space auto chose | test W-F1 auto | test W-F1 raw | auto - raw | test P@10 auto | test P@10 raw | CV seconds | why |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.corpus} | ${r.train} | ${r.space} | ${f(r.auto?.knn_weighted_f1)} | ${f(r.raw?.knn_weighted_f1)} | ${r.auto && r.raw ? (r.auto.knn_weighted_f1 - r.raw.knn_weighted_f1).toFixed(2) : '-'} | ${f(r.auto?.precision_at_k)} | ${f(r.raw?.precision_at_k)} | ${r.cvSeconds ?? '-'} | ${r.reason} |`),
].join('\n');
writeFileSync('docs/space-results.md', `# Space chosen by cross-validation, corpus by corpus (generated)\n\nWritten by \`npx tsx scripts/research/space-report.ts\` on ${new Date().toISOString().slice(0, 10)}; k=10, exact search, USE-lite; the corpora are described in the script's header.\n\n${table}\n`);
console.log(table);
