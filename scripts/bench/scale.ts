/**
 * The cost curve (issue 18): `npm run scale -- [--json] [--max 1000000] [--sizes 10000,100000,1000000]`
 * For each size it writes a JSONL corpus of that many utterances from the shared MELD and EmoryNLP dialogues (every
 * split of EmoryNLP, MELD's train and dev; its test split is kept for the queries), repeated with spoken-style variations
 * ("Well, ...", "..., you know?") and their labels mapped into the unified space, then, each step a CLI child process:
 *  1. builds it with the defaults (the space chosen by cross-validation, cross-fitting): wall time split by phase
 *     from the build's own progress lines, the longest silence on stderr, peak RSS; and, up to --baseline-max
 *     utterances, the same build with --projection none, for the ratio;
 *  2. serves it: open time (start to listening), RSS after the load, GET /demonstrations p50/p99 at concurrency 1 and
 *     16 with MELD test utterances (k=8);
 *  3. exports training prompts (instructerc, k=4) cross-fitted and with --no-cross-fit: the whole split up to
 *     --export-rows utterances, else the dialogues of its first --export-rows utterances; rows/s, peak RSS.
 * With --compare <checkout root> (another checkout with node_modules and dist/, e.g. an earlier commit's), steps 2 and
 * 3 run with that checkout's CLI too, on the same index, before this one's: serving memory, open time and query
 * latency before and after a change, in one run.
 * Writes docs/scale-results.md after every size (so a run cut short keeps what it measured) and prints one JSON
 * object with --json. The corpora and indexes live in a temporary directory (--work to choose it, --keep to keep it).
 */
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { corpusLabelMap, mapLabel } from '../../src/corpus/label-map.js';
import { loadCorpus } from '../../src/corpus/load.js';
import type { Dialogue } from '../../src/corpus/types.js';
import { startServeProcess } from '../../test/support/serve-process.js';
import { rssMb, runChild, type ChildRun, type StampedLine } from './child-run.js';
import { runLoad, writeUtterances, type Load } from './load-client.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    data: { type: 'string', default: '../shared/data' },
    sizes: { type: 'string', default: '10000,100000,1000000' },
    max: { type: 'string' },
    'baseline-max': { type: 'string', default: '100000' },
    'export-rows': { type: 'string', default: '100000' },
    work: { type: 'string' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string', default: 'docs/scale-results.md' },
    compare: { type: 'string' },
  },
});
const positive = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${v}"`);
  return n;
};
const max = values.max === undefined ? Infinity : positive('max', values.max);
const sizes = values.sizes!.split(',').map((s) => positive('sizes', s.trim())).filter((n) => n <= max).sort((a, b) => a - b);
if (sizes.length === 0) throw new Error(`no size in --sizes ${values.sizes} is at most --max ${values.max}`);
const baselineMax = positive('baseline-max', values['baseline-max']!);
const exportRows = positive('export-rows', values['export-rows']!);
const work = values.work ?? mkdtempSync(join(tmpdir(), 'erc-scale-'));
mkdirSync(work, { recursive: true });
const cli = 'bin/erc-demos.mjs';
const compareCli = values.compare === undefined ? undefined : join(values.compare, 'bin', 'erc-demos.mjs');
const log = (s: string) => process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** "Well, " before, ", you know?" after: copy 0 is the corpus itself, copy r > 0 one prefix and one suffix. */
const PREFIXES = ['Well, ', 'So, ', 'Oh, ', 'Okay, ', 'Look, ', 'Hey, ', 'I mean, ', 'Honestly, '];
const SUFFIXES = ['', ', you know?', ', right?', ', I guess.', ' Anyway.', ', okay?', ' Seriously.', ', huh?'];

function varied(text: string, copy: number): string {
  if (copy === 0) return text;
  const prefix = PREFIXES[(copy - 1) % PREFIXES.length];
  const suffix = SUFFIXES[Math.floor((copy - 1) / PREFIXES.length) % SUFFIXES.length];
  return `${prefix}${text.charAt(0).toLowerCase()}${text.slice(1)}${suffix}`;
}

/** The base dialogues, labels mapped into the unified space (MELD's test split is held back for the queries). */
function baseDialogues(): { base: Dialogue[]; queries: Dialogue[] } {
  const meld = loadCorpus({ format: 'meld', data: join(values.data!, 'meld'), splits: ['train', 'dev'] }).dialogues;
  const emory = loadCorpus({ format: 'emorynlp', data: join(values.data!, 'emorynlp'), splits: ['train', 'dev', 'test'] }).dialogues;
  const unified = (dialogues: Dialogue[], corpus: string): Dialogue[] => {
    const map = corpusLabelMap(corpus);
    return dialogues.map((d) => ({ ...d, turns: d.turns.map((t) => ({ ...t, labels: t.labels.map((l) => mapLabel(map, l) ?? l) })) }));
  };
  const queries = loadCorpus({ format: 'meld', data: join(values.data!, 'meld'), splits: ['test'] }).dialogues;
  return { base: [...unified(meld, 'meld'), ...unified(emory, 'emorynlp')], queries };
}

async function writeLine(stream: WriteStream, line: string): Promise<void> {
  if (!stream.write(`${line}\n`)) await new Promise<void>((r) => stream.once('drain', () => r()));
}

/**
 * Writes `size` utterances as one JSONL corpus (split train), copies of the base dialogues until full, the last one
 * cut to fit; and the dialogues of the first `exportRows` utterances to a second file (the export's input).
 */
async function writeCorpus(base: readonly Dialogue[], size: number, file: string, exportFile: string): Promise<{ exportUtterances: number }> {
  const all = createWriteStream(file);
  const part = createWriteStream(exportFile);
  let written = 0;
  let exportUtterances = 0;
  for (let copy = 0; written < size; copy++) {
    if (copy > PREFIXES.length * SUFFIXES.length) throw new Error(`the base corpus has too few utterances for ${size}`);
    for (const d of base) {
      if (written >= size) break;
      const turns = d.turns.slice(0, size - written).map((t) => ({ speaker: t.speaker, text: varied(t.text, copy), label: t.labels[0] }));
      const line = JSON.stringify({ id: `${d.corpus}/${d.id}/${copy}`, split: 'train', turns });
      await writeLine(all, line);
      if (written < exportRows) {
        await writeLine(part, line);
        exportUtterances += turns.length;
      }
      written += turns.length;
    }
  }
  await Promise.all([new Promise((r) => all.end(r)), new Promise((r) => part.end(r))]);
  return { exportUtterances };
}

/** A progress line's phase: `embedding (use-lite): 512/10000 (5%) ...` -> `embedding (use-lite)`. */
const PROGRESS_LINE = /^(.+?): \d+\/\d+ \(\d+%\)/;

export interface PhaseSplit { phases: Record<string, number>; longestSilenceS: number; silenceAfter: string }

/**
 * Seconds per phase from a run's stamped stderr: a phase runs from its first progress line to the next phase's first
 * (the last to the exit); before the first progress line is `starting` (reading the corpus, loading the embedder).
 * The longest silence is the longest gap between stderr lines (start and exit included), with the line before it.
 */
export function splitPhases(lines: readonly StampedLine[], total: number): PhaseSplit {
  const starts: { name: string; at: number }[] = [{ name: 'starting', at: 0 }];
  for (const l of lines) {
    const name = l.text.match(PROGRESS_LINE)?.[1];
    if (name !== undefined && name !== starts[starts.length - 1].name) starts.push({ name, at: l.at_s });
  }
  const phases: Record<string, number> = {};
  starts.forEach((s, i) => (phases[s.name] = Number(((phases[s.name] ?? 0) + (starts[i + 1]?.at ?? total) - s.at).toFixed(2))));
  let longest = 0;
  let after = '(start)';
  let previous = { at_s: 0, text: '(start)' };
  for (const l of [...lines, { at_s: total, text: '(exit)' }]) {
    if (l.at_s - previous.at_s > longest) {
      longest = l.at_s - previous.at_s;
      after = previous.text;
    }
    previous = l;
  }
  return { phases, longestSilenceS: Number(longest.toFixed(2)), silenceAfter: after.slice(0, 120) };
}

function dirMb(dir: string): number {
  return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0) / 2 ** 20;
}

const round = (x: number, digits = 1) => Number(x.toFixed(digits));

function checked(run: ChildRun, what: string): ChildRun {
  if (run.code !== 0) throw new Error(`${what} failed (exit ${run.code}): ${run.stderr.slice(-2000)}`);
  return run;
}

interface BuildResult { seconds: number; peak_rss_mb: number; phases: Record<string, number>; longest_silence_s: number; silence_after: string }
interface ExportResult { seconds: number; rows_per_s: number; peak_rss_mb: number; longest_silence_s: number }
interface LoadResult { p50_ms: number; p99_ms: number; rps: number; errors: number }
/** Serving and exporting one index with one checkout's CLI. */
interface ServeResult {
  open_seconds: number;
  serve_rss_mb: number;
  c1: LoadResult;
  c16: LoadResult;
  export_cross_fit: ExportResult;
  export_no_cross_fit: ExportResult;
}
interface SizeResult {
  /** The same steps with --compare's checkout. */
  compare?: ServeResult & { checkout: string };
  utterances: number;
  size_seconds: number;
  build: BuildResult;
  build_none: BuildResult | null;
  build_ratio_vs_none: number | null;
  space: string;
  index_mb: number;
  open_seconds: number;
  serve_rss_mb: number;
  c1: LoadResult;
  c16: LoadResult;
  export_rows: number;
  export_cross_fit: ExportResult;
  export_no_cross_fit: ExportResult;
  export_ratio: number;
}

async function build(corpusFile: string, out: string, extra: string[]): Promise<BuildResult> {
  const run = checked(await runChild([cli, 'build', '--corpus', 'jsonl', '--corpus-name', 'scale', '--data', corpusFile, '--split', 'train', '--out', out, ...extra], { sampleMs: 200 }), `build ${extra.join(' ')}`);
  const split = splitPhases(run.lines, run.seconds);
  return { seconds: round(run.seconds), peak_rss_mb: Math.round(run.peakRssMb), phases: split.phases, longest_silence_s: split.longestSilenceS, silence_after: split.silenceAfter };
}

async function exportPrompts(index: string, file: string, out: string, extra: string[], rows: number, bin = cli): Promise<ExportResult> {
  const run = checked(await runChild([bin, 'prompts', '--index', index, '--corpus', 'jsonl', '--corpus-name', 'scale', '--data', file, '--split', 'train', '--out', out, ...extra], { sampleMs: 200 }), `prompts ${extra.join(' ')}`);
  return { seconds: round(run.seconds), rows_per_s: Math.round(rows / run.seconds), peak_rss_mb: Math.round(run.peakRssMb), longest_silence_s: splitPhases(run.lines, run.seconds).longestSilenceS };
}

const loadResult = (l: Load): LoadResult => ({ p50_ms: l.p50_ms, p99_ms: l.p99_ms, rps: round(l.rps), errors: l.errors + l.non2xx + l.timeouts });

async function measure(size: number, base: readonly Dialogue[], utterances: string): Promise<SizeResult> {
  const started = performance.now();
  const corpusFile = join(work, `scale-${size}.jsonl`);
  const exportFile = join(work, `scale-${size}-export.jsonl`);
  log(`${size}: writing the corpus ...`);
  const { exportUtterances } = await writeCorpus(base, size, corpusFile, exportFile);
  const indexDir = join(work, `index-${size}`);
  log(`${size}: building with the defaults ...`);
  const built = await build(corpusFile, indexDir, []);
  log(`${size}: built in ${built.seconds} s, peak RSS ${built.peak_rss_mb} MB, longest silence ${built.longest_silence_s} s`);
  let none: BuildResult | null = null;
  if (size <= baselineMax) {
    log(`${size}: building with --projection none ...`);
    none = await build(corpusFile, join(work, `index-${size}-none`), ['--projection', 'none']);
    rmSync(join(work, `index-${size}-none`), { recursive: true, force: true });
    log(`${size}: --projection none built in ${none.seconds} s`);
  }
  const manifest = JSON.parse(readFileSync(join(indexDir, 'manifest.json'), 'utf8')) as { projection: { shrinkage: number; blend: number } | null };
  const space = manifest.projection ? `lda s=${manifest.projection.shrinkage} b=${manifest.projection.blend}` : 'raw';

  const rows = Math.min(exportUtterances, size);
  const serveAndExport = async (bin: string): Promise<ServeResult> => {
    log(`${size}: serving with ${bin} ...`);
    const openStarted = performance.now();
    // As npm start and the image run it: glibc's large allocations on transparent huge pages (the graph's read).
    const server = await startServeProcess([bin, 'serve', '--index', indexDir, '--port', '0'], { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' });
    const openSeconds = (performance.now() - openStarted) / 1000;
    await runLoad(server.url, utterances, { connections: 4, amount: 200, seconds: 60 });
    const c1 = await runLoad(server.url, utterances, { connections: 1, amount: 1000, seconds: 60 });
    const c16 = await runLoad(server.url, utterances, { connections: 16, amount: 4000, seconds: 60 });
    const serveRss = rssMb(server.child.pid!);
    server.child.kill('SIGTERM');
    await server.exited;
    log(`${size}: open ${openSeconds.toFixed(2)} s, serving RSS ${Math.round(serveRss)} MB; exporting ${rows} training prompts, cross-fitted and not ...`);
    const crossFit = await exportPrompts(indexDir, exportFile, join(work, 'export-cf.jsonl'), [], rows, bin);
    const noCrossFit = await exportPrompts(indexDir, exportFile, join(work, 'export-plain.jsonl'), ['--no-cross-fit'], rows, bin);
    rmSync(join(work, 'export-cf.jsonl'), { force: true });
    rmSync(join(work, 'export-plain.jsonl'), { force: true });
    return { open_seconds: round(openSeconds, 2), serve_rss_mb: Math.round(serveRss), c1: loadResult(c1), c16: loadResult(c16), export_cross_fit: crossFit, export_no_cross_fit: noCrossFit };
  };
  const compared = compareCli === undefined ? undefined : { checkout: values.compare!, ...(await serveAndExport(compareCli)) };
  const { open_seconds: openSeconds, serve_rss_mb: serveRss, c1, c16, export_cross_fit: crossFit, export_no_cross_fit: noCrossFit } = await serveAndExport(cli);
  const indexMb = dirMb(indexDir);
  if (!values.keep) for (const f of [corpusFile, exportFile, indexDir]) rmSync(f, { recursive: true, force: true });
  return {
    utterances: size,
    size_seconds: round((performance.now() - started) / 1000),
    build: built,
    build_none: none,
    build_ratio_vs_none: none ? round(built.seconds / none.seconds, 2) : null,
    space,
    index_mb: round(indexMb),
    open_seconds: openSeconds,
    serve_rss_mb: serveRss,
    c1,
    c16,
    export_rows: rows,
    export_cross_fit: crossFit,
    export_no_cross_fit: noCrossFit,
    export_ratio: round(crossFit.seconds / noCrossFit.seconds, 2),
    ...(compared ? { compare: compared } : {}),
  };
}

/** log(y2/y1) / log(n2/n1) between consecutive sizes: 1 is linear, 2 quadratic. */
function exponents(results: readonly SizeResult[], pick: (r: SizeResult) => number): string {
  const parts: string[] = [];
  for (let i = 1; i < results.length; i++) {
    const [a, b] = [results[i - 1], results[i]];
    parts.push((Math.log(pick(b) / pick(a)) / Math.log(b.utterances / a.utterances)).toFixed(2));
  }
  return parts.join(', ');
}

function report(results: readonly SizeResult[]): string {
  const phaseNames = [...new Set(results.flatMap((r) => Object.keys(r.build.phases)))];
  const k = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);
  const lines = [
    '# Scale: cost by corpus size (generated)',
    '',
    `Written by \`${['npm run scale', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ')}\` on ${new Date().toISOString().slice(0, 10)}; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB. One run per size: read differences under ~20% as noise (the machine is shared). The corpus, the steps and the columns are described in scripts/bench/scale.ts.`,
    '',
    '| utterances | size took (s) | build (s) | --projection none (s) | ratio | build peak RSS (MB) | longest silence (s) | space | index on disk (MB) | open (s) | serving RSS (MB) | c1 p50 / p99 (ms) | c16 p50 / p99 (ms) | c16 req/s | export rows | cross-fitted (rows/s) | --no-cross-fit (rows/s) | export ratio | export peak RSS (MB) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map((r) => `| ${k(r.utterances)} | ${r.size_seconds} | ${r.build.seconds} | ${r.build_none?.seconds ?? '-'} | ${r.build_ratio_vs_none ?? '-'} | ${r.build.peak_rss_mb} | ${r.build.longest_silence_s} | ${r.space} | ${r.index_mb} | ${r.open_seconds} | ${r.serve_rss_mb} | ${r.c1.p50_ms} / ${r.c1.p99_ms} | ${r.c16.p50_ms} / ${r.c16.p99_ms} | ${r.c16.rps} | ${r.export_rows} | ${r.export_cross_fit.rows_per_s} | ${r.export_no_cross_fit.rows_per_s} | ${r.export_ratio} | ${Math.max(r.export_cross_fit.peak_rss_mb, r.export_no_cross_fit.peak_rss_mb)} |`),
    '',
    'Build time by phase (s), from the build\'s progress lines (`starting`: reading the corpus and loading the embedder):',
    '',
    `| utterances | ${phaseNames.join(' | ')} |`,
    `|---|${phaseNames.map(() => '---|').join('')}`,
    ...results.map((r) => `| ${k(r.utterances)} | ${phaseNames.map((p) => r.build.phases[p] ?? '-').join(' | ')} |`),
    '',
  ];
  if (results.length > 1) {
    lines.push(
      `Scaling exponents between consecutive sizes (1: linear, 2: quadratic): build ${exponents(results, (r) => r.build.seconds)}; ` +
        `build peak RSS ${exponents(results, (r) => r.build.peak_rss_mb)}; index on disk ${exponents(results, (r) => r.index_mb)}; ` +
        `serving RSS ${exponents(results, (r) => r.serve_rss_mb)}; open ${exponents(results, (r) => r.open_seconds)}; ` +
        `c1 p50 ${exponents(results, (r) => r.c1.p50_ms)}; cross-fitted export seconds per row ${exponents(results, (r) => 1 / r.export_cross_fit.rows_per_s)}.`,
      '',
    );
    for (const p of phaseNames.filter((p) => results.every((r) => (r.build.phases[p] ?? 0) > 0))) lines.push(`- ${p}: ${exponents(results, (r) => r.build.phases[p])}`);
    lines.push('');
  }
  const withCompare = results.filter((r) => r.compare);
  if (withCompare.length > 0) {
    lines.push(
      `The same index served and exported by ${withCompare[0].compare!.checkout} (--compare), just before this checkout:`,
      '',
      '| utterances | open (s) | serving RSS (MB) | c1 p50 / p99 (ms) | c16 p50 / p99 (ms) | c16 req/s | cross-fitted (rows/s) | --no-cross-fit (rows/s) | export peak RSS (MB) |',
      '|---|---|---|---|---|---|---|---|---|',
      ...withCompare.map(({ utterances, compare: c }) => `| ${k(utterances)} | ${c!.open_seconds} | ${c!.serve_rss_mb} | ${c!.c1.p50_ms} / ${c!.c1.p99_ms} | ${c!.c16.p50_ms} / ${c!.c16.p99_ms} | ${c!.c16.rps} | ${c!.export_cross_fit.rows_per_s} | ${c!.export_no_cross_fit.rows_per_s} | ${Math.max(c!.export_cross_fit.peak_rss_mb, c!.export_no_cross_fit.peak_rss_mb)} |`),
      '',
    );
  }
  lines.push('Longest silence of each build, after the line:', '', ...results.map((r) => `- ${k(r.utterances)}: ${r.build.longest_silence_s} s after \`${r.build.silence_after}\``), '');
  return lines.join('\n');
}

try {
  log(`sizes ${sizes.join(', ')}; work in ${work}`);
  const { base, queries } = baseDialogues();
  const utterances = writeUtterances(work, queries);
  const results: SizeResult[] = [];
  for (const size of sizes) {
    results.push(await measure(size, base, utterances));
    writeFileSync(values.out!, report(results));
    log(`${size}: done in ${results[results.length - 1].size_seconds} s; ${values.out} written`);
  }
  if (values.json) console.log(JSON.stringify({ machine: { cores: cpus().length, cpu: cpus()[0]?.model, mem_gib: Math.round(totalmem() / 2 ** 30) }, sizes: results }));
} finally {
  if (!values.keep && values.work === undefined) rmSync(work, { recursive: true, force: true });
}
