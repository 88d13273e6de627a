/**
 * Benchmark on MELD (npm run bench -- [--json] [--runs N] [--data ../shared/data/meld]); each run does:
 *  1. a full MELD train index build (the CLI as a child process): utterances/s over its wall time, peak RSS;
 *  2. the service on that index, driven by autocannon in a separate process with MELD test utterances (each
 *     request a different one, in order), k=8, at concurrency 1 and 16: p50/p99 latency, requests/s, errors;
 *  3. the same load against LangChain.js' SemanticSimilarityExampleSelector (scripts/bench/bench-peer.ts), same model;
 *  4. the same build and concurrency-16 load with a sentence-transformer the size of all-MiniLM-L6-v2 (random
 *     weights, made by scripts/bench/make-minilm-sized.ts into models/ when missing): minilm_* keys.
 * The index is built with --projection none so both sides rank the same raw USE-lite vectors.
 * With --runs N, every key is the median over the N runs (errors: the sum); the machine is shared and noisy.
 * Writes docs/performance-results.md (medians and every run); prints the medians as one JSON object with --json.
 */
import { existsSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCorpus } from '../../src/corpus/load.js';
import { runChild } from './child-run.js';
import { runLoad, writeUtterances } from './load-client.js';
import { startServeProcess } from '../../test/support/serve-process.js';

const { values } = parseArgs({
  options: { json: { type: 'boolean', default: false }, data: { type: 'string', default: '../shared/data/meld' }, runs: { type: 'string', default: '1' } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);
const work = mkdtempSync(join(tmpdir(), 'erc-bench-'));
const tsx = ['--import', 'tsx'];

const run = (args: string[]) => runChild(args);

const load = (url: string, connections: number, amount: number, utterances: string) => runLoad(url, utterances, { connections, amount, seconds: 30 });

const MINILM = 'models/minilm-l6-random';

/** One whole run: build, our service at c1/c16, the peer at c1/c16 (each server stopped before the next starts). */
async function benchOnce(runNumber: number, utterances: string): Promise<Record<string, number>> {
  log('building the MELD train index ...');
  const indexDir = join(work, `meld-${runNumber}`);
  const build = await run(['bin/erc-demos.mjs', 'build', '--corpus', 'meld', '--data', values.data!, '--split', 'train', '--projection', 'none', '--out', indexDir]);
  if (build.code !== 0) throw new Error(`build failed: ${build.stderr}`);
  const count = (JSON.parse(readFileSync(join(indexDir, 'manifest.json'), 'utf8')) as { count: number }).count;
  log(`built ${count} utterances in ${build.seconds.toFixed(1)} s, peak RSS ${build.peakRssMb.toFixed(0)} MB`);

  log('service: warm-up, concurrency 1, concurrency 16 ...');
  const ours = await startServeProcess(['bin/erc-demos.mjs', 'serve', '--index', indexDir, '--port', '0']);
  await load(ours.url, 4, 200, utterances);
  const c1 = await load(ours.url, 1, 1000, utterances);
  const c16 = await load(ours.url, 16, 4000, utterances);
  ours.child.kill('SIGTERM');

  log('peer (LangChain.js SemanticSimilarityExampleSelector + MemoryVectorStore) ...');
  const peer = await startServeProcess([...tsx, 'scripts/bench/bench-peer.ts', '--index', indexDir, '--port', '0']);
  await load(peer.url, 4, 200, utterances);
  const peerC1 = await load(peer.url, 1, 1000, utterances);
  const peerC16 = await load(peer.url, 16, 4000, utterances);
  peer.child.kill('SIGTERM');

  log('MiniLM-L6-sized sentence-transformer: build, concurrency 16 ...');
  const minilmDir = join(work, `minilm-${runNumber}`);
  const minilmBuild = await run(['bin/erc-demos.mjs', 'build', '--corpus', 'meld', '--data', values.data!, '--split', 'train', '--projection', 'none',
    '--embedder', `transformers:${MINILM}`, '--out', minilmDir]);
  if (minilmBuild.code !== 0) throw new Error(`MiniLM-sized build failed: ${minilmBuild.stderr}`);
  const minilm = await startServeProcess(['bin/erc-demos.mjs', 'serve', '--index', minilmDir, '--port', '0']);
  await load(minilm.url, 4, 200, utterances);
  const minilmC16 = await load(minilm.url, 16, 2000, utterances);
  minilm.child.kill('SIGTERM');

  return {
    build_items: count,
    build_seconds: Number(build.seconds.toFixed(2)),
    build_items_per_s: Number((count / build.seconds).toFixed(1)),
    build_peak_rss_mb: Number(build.peakRssMb.toFixed(0)),
    c1_p50_ms: c1.p50_ms,
    c1_p99_ms: c1.p99_ms,
    c1_rps: Number(c1.rps.toFixed(1)),
    c16_p50_ms: c16.p50_ms,
    c16_p99_ms: c16.p99_ms,
    c16_rps: Number(c16.rps.toFixed(1)),
    peer_c1_p50_ms: peerC1.p50_ms,
    peer_c16_p50_ms: peerC16.p50_ms,
    peer_c16_p99_ms: peerC16.p99_ms,
    peer_c16_rps: Number(peerC16.rps.toFixed(1)),
    rps_ratio_vs_peer: Number((c16.rps / peerC16.rps).toFixed(2)),
    minilm_build_items_per_s: Number((count / minilmBuild.seconds).toFixed(1)),
    minilm_c16_p50_ms: minilmC16.p50_ms,
    minilm_c16_p99_ms: minilmC16.p99_ms,
    minilm_c16_rps: Number(minilmC16.rps.toFixed(1)),
    errors: c1.errors + c16.errors + minilmC16.errors,
    peer_errors: peerC1.errors + peerC16.errors,
  };
}

/** Middle value (mean of the two middle ones for an even count). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : Number(((s[m - 1] + s[m]) / 2).toFixed(2));
}

try {
  if (!existsSync(join(MINILM, 'onnx', 'model.onnx'))) {
    log(`making ${MINILM} (scripts/bench/make-minilm-sized.ts) ...`);
    const made = await run([...tsx, 'scripts/bench/make-minilm-sized.ts', '--out', MINILM, '--data', values.data!]);
    if (made.code !== 0) throw new Error(`make-minilm-sized failed: ${made.stderr}`);
  }
  const test = loadCorpus({ format: 'meld', data: values.data!, splits: ['test'] });
  const utterances = writeUtterances(work, test.dialogues);
  const results: Record<string, number>[] = [];
  for (let r = 1; r <= runs; r++) {
    log(`run ${r} of ${runs}`);
    results.push(await benchOnce(r, utterances));
  }
  // Medians per key over the runs; errors are summed, so one failed request in any run shows.
  const keys = Object.keys(results[0]);
  const summary: Record<string, number | string> = {
    machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`,
    runs,
  };
  for (const k of keys) summary[k] = k.endsWith('errors') ? results.reduce((s, r) => s + r[k], 0) : median(results.map((r) => r[k]));
  const header = `| key | median of ${runs} | ${results.map((_, i) => `run ${i + 1}`).join(' | ')} |\n|---|---|${results.map(() => '---|').join('')}`;
  const rows = keys.map((k) => `| ${k} | ${summary[k]} | ${results.map((r) => r[k]).join(' | ')} |`).join('\n');
  writeFileSync('docs/performance-results.md', `# Performance (generated)\n\nWritten by \`npm run bench -- --runs ${runs}\` on ${new Date().toISOString().slice(0, 10)}, ${summary.machine}. Latencies are autocannon's p50/p99 within a run; the first column is the median of the runs (errors: the sum). See docs/PERFORMANCE.md for the method.\n\n${header}\n${rows}\n`);
  if (values.json) console.log(JSON.stringify(summary));
  else console.log(`${header}\n${rows}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
