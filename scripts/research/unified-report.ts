/**
 * Pooling MELD and EmoryNLP in InstructERC's unified 9-label (Feeling Wheel) space: does a pooled index give better
 * or worse demonstrations than each corpus's own, and what does data scaling (--fraction) do to them? Builds, each as
 * a child process of the CLI (`node --import tsx src/cli/main.ts build`, no dist/ needed) timed by `/usr/bin/time -f '%e %M'` (wall seconds, peak RSS of the build process):
 *   - MELD train alone and EmoryNLP train alone, `--label-space unified`
 *   - the pool MELD + EmoryNLP train (unified by default)
 *   - pooled fraction indexes: 1, 1/2, ..., 1/64 with `--mix ratio --seed 1`, and 1/8, 1/64 with `--mix total --seed 1`
 * all with `--projection auto` and use-lite; then evaluates MELD test and EmoryNLP test (k=10, exact search, as
 * `erc-demos eval` does) against each. The fraction builds fall back to `--projection none` only when the measured
 * times project the whole run past --budget-min minutes (stated in the output). Indexes live in a temporary
 * directory, removed at the end. Writes markdown to --out and stdout.
 *   node --import tsx scripts/research/unified-report.ts [--out docs/unified-results.md] [--data ../shared/data] [--budget-min 25]
 * Data: --data, else $ERC_DEMOS_DATA_DIR, else ../shared/data.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadSourcesForIndex } from '../../src/cli/index-sources.js';
import type { CorpusFormat } from '../../src/corpus/load.js';
import { candidateName } from '../../src/index/choose-space.js';
import type { Manifest } from '../../src/index/manifest.js';
import { evaluateRetrieval, type EvalResult } from '../../src/eval/evaluate.js';
import type { Embedder } from '../../src/embed/types.js';
import { DemoService } from '../../src/service/service.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'docs/unified-results.md' },
    data: { type: 'string' },
    'budget-min': { type: 'string', default: '25' },
    /** Force the fraction builds' projection (default: auto, unless the budget says otherwise). */
    'fraction-projection': { type: 'string' },
  },
});
const dataDir = values.data ?? process.env.ERC_DEMOS_DATA_DIR ?? '../shared/data';
const budgetS = Number(values['budget-min']) * 60;
const CORPORA: CorpusFormat[] = ['meld', 'emorynlp'];
const NAMES: Record<string, string> = { meld: 'MELD', emorynlp: 'EmoryNLP' };
const source = (c: CorpusFormat) => `${c}:${join(dataDir, c)}`;
const work = mkdtempSync(join(tmpdir(), 'erc-unified-report-'));
const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
const loadStart = loadavg()[0];
process.on('exit', () => rmSync(work, { recursive: true, force: true })); // a failed or interrupted run leaves nothing
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

interface Build { label: string; dir: string; args: string[]; seconds: number; peakMiB: number; manifest: Manifest }

/** One `erc-demos build` as a child process under /usr/bin/time: its wall seconds and peak RSS (KiB -> MiB). */
function build(label: string, name: string, args: string[]): Build {
  const dir = join(work, name);
  // The CLI from its TypeScript source through tsx (as bin/ did before dist/): no compiled dist/ needed, none stale.
  const argv = ['-f', '%e %M', process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'build', ...args, '--out', dir];
  const run = spawnSync('/usr/bin/time', argv, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error) throw run.error;
  const lines = run.stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const timing = /^(\d+(?:\.\d+)?) (\d+)$/.exec(lines[lines.length - 1] ?? '');
  if (run.status !== 0 || !timing) throw new Error(`build ${label} failed (exit ${run.status}):\n${lines.slice(-30).join('\n')}`);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const b: Build = { label, dir, args, seconds: Number(timing[1]), peakMiB: Number(timing[2]) / 1024, manifest };
  console.error(`[${elapsed().toFixed(0)}s] built ${label}: ${manifest.count} utterances, ${space(manifest)}, ${b.seconds}s wall, ${b.peakMiB.toFixed(0)} MiB peak RSS`);
  return b;
}

/** The space the build searches: the candidate auto chose, or raw. */
function space(m: Manifest): string {
  if (m.space_selection?.method === 'cross-validation') return candidateName(m.space_selection.chosen);
  return m.projection ? `lda s=${m.projection.shrinkage} b=${m.projection.blend}` : 'raw';
}

/**
 * Every index here is built with the same embedder (use-lite), so a test utterance's embedding is the same for all of
 * them: computed once per text and reused (the vectors are never written to), which leaves each evaluation the
 * search. Numbers are what `eval` gives; its queries/s would not be, and is not reported.
 */
const embedCache = new Map<string, Float32Array>();
function cached(embedder: Embedder): Embedder {
  return {
    id: embedder.id,
    dim: embedder.dim,
    async embed(texts) {
      const missing = [...new Set(texts.filter((t) => !embedCache.has(t)))];
      if (missing.length > 0) (await embedder.embed(missing)).forEach((v, i) => embedCache.set(missing[i], v));
      return texts.map((t) => embedCache.get(t)!);
    },
  };
}

/** A test split in the index's label space, as `erc-demos eval --index DIR --source <corpus> --split test` runs it. */
async function evaluate(b: Build, corpus: CorpusFormat): Promise<EvalResult> {
  const service = await DemoService.load([b.dir]);
  try {
    const { index } = service.index();
    if (index.manifest.embedder.id !== 'use-lite') throw new Error(`${b.label}: built with ${index.manifest.embedder.id}, not use-lite`);
    const test = loadSourcesForIndex(index.manifest, { sources: [{ format: corpus, data: join(dataDir, corpus) }] }, 'test');
    const r = await evaluateRetrieval(index, cached(service.embedderFor(index)), test.dialogues, { k: 10, search: 'exact', crossFit: true });
    console.error(`[${elapsed().toFixed(0)}s]   ${NAMES[corpus]} test on ${b.label}: W-F1 ${r.knn_weighted_f1.toFixed(2)} P@10 ${r.precision_at_k.toFixed(2)} other corpus ${r.other_corpus_share.toFixed(2)}%`);
    return r;
  } finally {
    await service.close();
  }
}

const f2 = (x: number) => x.toFixed(2);
const md = (header: string[], rows: (string | number)[][]) =>
  [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

// 1. The three full builds.
const single: Record<string, Build> = {};
for (const c of CORPORA) single[c] = build(`${NAMES[c]} train (unified)`, `${c}-unified`, ['--source', source(c), '--label-space', 'unified']);
const pool = build('pool MELD+EmoryNLP train', 'pool', CORPORA.flatMap((c) => ['--source', source(c)]));

// 2. Each test split against its own corpus's index, the pool, and (for reference) the other corpus's index.
interface EvalRow { corpus: CorpusFormat; index: string; result: EvalResult }
const mainRows: EvalRow[] = [];
const poolEvalS: Record<string, number> = {}; // each test split on the pool, its embeddings already cached: search only
for (const c of CORPORA) {
  const other = CORPORA.find((x) => x !== c)!;
  for (const b of [single[c], pool, single[other]]) {
    const t0 = performance.now();
    mainRows.push({ corpus: c, index: b.label, result: await evaluate(b, c) });
    if (b === pool) poolEvalS[c] = (performance.now() - t0) / 1000;
  }
}

// 3. Data scaling. Before choosing the fraction builds' projection, project their time from what was measured: a
// build is the CLI's start-up plus a part proportional to the data (linear: the space's cross-validation grows
// faster than that, so small fractions are overestimated), an evaluation a fixed part plus a search proportional to
// the index (the test embeddings are cached by then).
const FRACTIONS = ['1', '1/2', '1/4', '1/8', '1/16', '1/32', '1/64'];
const plan = [...FRACTIONS.map((f) => ({ fraction: f, mix: 'ratio' })), { fraction: '1/8', mix: 'total' }, { fraction: '1/64', mix: 'total' }];
const value = (f: string) => f.split('/').map(Number).reduce((a, b) => a / b);
const startupS = Math.min(...Object.values(single).map((b) => b.seconds - b.manifest.build_seconds), pool.seconds - pool.manifest.build_seconds);
const EVAL_FIXED_S = 5; // opening the index and loading the test split
const projectedS = plan.reduce((s, p) => s + startupS + value(p.fraction) * pool.manifest.build_seconds
  + CORPORA.reduce((e, c) => e + EVAL_FIXED_S + value(p.fraction) * Math.max(0, poolEvalS[c] - EVAL_FIXED_S), 0), 0);
let fractionProjection = values['fraction-projection'] ?? 'auto';
let projectionNote = `Fraction builds use \`--projection ${fractionProjection}\`${values['fraction-projection'] ? ' (forced on the command line)' : ''}: after the full builds and their evaluations (${elapsed().toFixed(0)} s so far) the ${plan.length} fraction builds and their evaluations were projected at ${(projectedS / 60).toFixed(1)} min, within the ${(budgetS / 60).toFixed(0)}-minute budget.`;
if (!values['fraction-projection'] && elapsed() + projectedS > budgetS) {
  fractionProjection = 'none';
  projectionNote = `**Fraction builds use \`--projection none\` (the raw space), not the default auto**: after the full builds and their evaluations (${elapsed().toFixed(0)} s so far) the ${plan.length} fraction builds with auto were projected at ${(projectedS / 60).toFixed(1)} min, past the ${(budgetS / 60).toFixed(0)}-minute budget. The full-data rows above use auto; compare fraction rows with each other, not with them.`;
}
console.error(`[${elapsed().toFixed(0)}s] ${projectionNote}`);

interface FractionRow { fraction: string; mix: string; build: Build; results: Record<string, EvalResult> }
const fractionRows: FractionRow[] = [];
for (const p of plan) {
  const b = build(`pool --fraction ${p.fraction} --mix ${p.mix}`, `pool-${p.fraction.replace('/', 'of')}-${p.mix}`,
    [...CORPORA.flatMap((c) => ['--source', source(c)]), '--fraction', p.fraction, '--mix', p.mix, '--seed', '1', '--projection', fractionProjection]);
  const results: Record<string, EvalResult> = {};
  for (const c of CORPORA) results[c] = await evaluate(b, c);
  fractionRows.push({ fraction: p.fraction, mix: p.mix, build: b, results });
  rmSync(b.dir, { recursive: true, force: true });
}
const totalS = elapsed();
rmSync(work, { recursive: true, force: true });

// 4. Markdown.
const cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim() || String(cpus().length);
const git = (...args: string[]) => spawnSync('git', args, { encoding: 'utf8' });
const commit = git('rev-parse', '--short', 'HEAD').stdout.trim();
const dirty = git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '';
const code = commit ? `commit ${commit}${dirty ? ' with uncommitted changes' : ''}` : 'not a git checkout';
const command = `node --import tsx scripts/research/unified-report.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`;

const buildTable = md(['index', 'utterances', 'dialogues', 'space (auto)', 'build wall s', 'peak RSS MiB'],
  [...Object.values(single), pool].map((b) => [b.label, b.manifest.count, (b.manifest.sources ?? []).map((s) => `${s.corpus} ${s.dialogues}`).join(' + '), space(b.manifest), b.seconds.toFixed(1), b.peakMiB.toFixed(0)]));

const mainTable = md(['test corpus', 'index', 'kNN W-F1', 'precision@10', 'accuracy', 'macro-F1', 'other corpus share %', 'n'],
  mainRows.map(({ corpus, index, result: r }) => [`${NAMES[corpus]} test`, index, f2(r.knn_weighted_f1), f2(r.precision_at_k), f2(r.accuracy), f2(r.macro_f1), f2(r.other_corpus_share), r.n]));

const deltaRows = CORPORA.map((c) => {
  const own = mainRows.find((r) => r.corpus === c && r.index === single[c].label)!.result;
  const pooled = mainRows.find((r) => r.corpus === c && r.index === pool.label)!.result;
  const sign = (x: number) => (x >= 0 ? '+' : '') + f2(x);
  return [`${NAMES[c]} test`, sign(pooled.knn_weighted_f1 - own.knn_weighted_f1), sign(pooled.precision_at_k - own.precision_at_k), sign(pooled.macro_f1 - own.macro_f1), f2(pooled.other_corpus_share)];
});
const deltaTable = md(['test corpus', 'Δ kNN W-F1 (pool - own)', 'Δ precision@10', 'Δ macro-F1', 'other corpus share % (pool)'], deltaRows);

const perLabelTable = md(['test corpus', 'label', 'support', 'F1 own index', 'F1 pool', 'Δ F1'],
  CORPORA.flatMap((c) => {
    const own = mainRows.find((r) => r.corpus === c && r.index === single[c].label)!.result;
    const pooled = mainRows.find((r) => r.corpus === c && r.index === pool.label)!.result;
    return own.per_label.filter((l) => l.support > 0).map((l) => {
      const p = pooled.per_label.find((x) => x.label === l.label);
      return [`${NAMES[c]} test`, l.label, l.support, f2(l.f1), p ? f2(p.f1) : '-', p ? (p.f1 - l.f1 >= 0 ? '+' : '') + f2(p.f1 - l.f1) : '-'];
    });
  }));

const fractionTable = md(['fraction', 'mix', 'MELD dialogues', 'EmoryNLP dialogues', 'utterances', 'space', 'MELD P@10', 'MELD W-F1', 'MELD other %', 'EmoryNLP P@10', 'EmoryNLP W-F1', 'EmoryNLP other %', 'build wall s', 'peak RSS MiB'],
  fractionRows.map(({ fraction, mix, build: b, results }) => {
    const pc = b.manifest.sample?.per_corpus ?? {};
    const n = (c: string) => (pc[c] ? `${pc[c].sampled} of ${pc[c].of}` : '-');
    return [fraction, mix, n('meld'), n('emorynlp'), b.manifest.count, space(b.manifest),
      f2(results.meld.precision_at_k), f2(results.meld.knn_weighted_f1), f2(results.meld.other_corpus_share),
      f2(results.emorynlp.precision_at_k), f2(results.emorynlp.knn_weighted_f1), f2(results.emorynlp.other_corpus_share),
      b.seconds.toFixed(1), b.peakMiB.toFixed(0)];
  }));

const report = `# Pooled index in the unified label space (generated)

Written by \`${command}\` on ${new Date().toISOString().slice(0, 10)}.
Code: ${code}. Machine: ${nproc} cores (\`nproc\`), ${cpuModel}, Node ${process.version}; load average ${loadStart.toFixed(2)} at the start and ${loadavg()[0].toFixed(2)} at the end (the machine is shared with other work). Whole run: ${(totalS / 60).toFixed(1)} min.
Data: ${dataDir}. Embedder use-lite, \`--projection auto\` unless said otherwise; evaluation k=10, exact search, test split in the index's (unified) label space, as \`erc-demos eval --index DIR --source <corpus>:<path> --split test --json\` computes it (the script calls the same \`evaluateRetrieval\`, embedding each test utterance once and reusing it across indexes, all use-lite).

Quality figures are single runs. Folds, samples and graphs are seeded, but two builds of the same data are not bit-identical (their vectors differ by about 1e-6, from how the embedder's threads batch the work); between runs of this report that moved kNN W-F1 by up to 0.3 and precision@10 by up to 0.05 on the same index: read smaller differences as ties. **Timings are single runs too, and noisy**: wall time depends on what else the shared 2-core machine was doing; peak RSS (from \`/usr/bin/time -f '%e %M'\` around each \`erc-demos build\` child process, \`node --import tsx src/cli/main.ts build ...\`, so it includes tsx's on-the-fly compile of the TypeScript) is steadier. Read time differences under ~20% as noise.

## Builds

${buildTable}

## Own index against the pool

Rows: a test corpus against its own corpus's index (unified labels), against the pool, and, for reference, against the other corpus's index alone. "other corpus share" is the percentage of the 10 neighbours that come from the other corpus.

${mainTable}

${deltaTable}

Per label (kNN prediction F1, own index against the pool):

${perLabelTable}

## Data scaling (pooled, --seed 1)

${projectionNote}

\`ratio\` takes the fraction of each corpus's training dialogues, \`total\` the fraction of the pooled dialogues (so the corpora's shares vary with the draw). Dialogue counts are the manifest's \`sample.per_corpus\`. Fraction 1 with \`--mix ratio\` holds all the training data, as the pool above does.

${fractionTable}
`;
writeFileSync(values.out!, report);
console.log(report);
