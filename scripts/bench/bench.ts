/**
 * Benchmark on MELD (npm run bench -- [--json] [--runs N] [--data ../shared/data/meld]); each run does:
 *  1. a full MELD train index build (the CLI as a child process): utterances/s over its wall time, peak RSS;
 *  2. the service on that index, driven by autocannon in a separate process with the distinct MELD test utterances
 *     (in order, cycled), k=8, at concurrency 1 and 16: p50/p99 latency, requests/s, errors; its query cache off
 *     (ERC_DEMOS_EMBED_CACHE_MB=0), as the peers have none; the server's CPU per request by thread during the
 *     concurrency-16 load (/proc), and from it the embedding-bound ceiling of this machine and our share of it;
 *  3. the same loads against the peers: LangChain.js' SemanticSimilarityExampleSelector over a MemoryVectorStore with
 *     our embedder (scripts/bench/bench-peer.ts, the row kept from before), and over @langchain/community's HNSWLib
 *     with USE-lite on TensorFlow.js (peer A) or with our embedder (peer B) (scripts/bench/peers/peer-hnswlib.ts);
 *  4. the replay load: MELD test once through in its order, repeats included, at concurrency 16, against the service
 *     with its query cache on (the default) and off: hit rate (from /metrics) and requests/s;
 *  5. the index alone: usearch exact and HNSW beside hnswlib-node on the index's vectors (peers/index-bench.ts);
 *  6. the same build and concurrency-16 load with a sentence-transformer the size of all-MiniLM-L6-v2 (random
 *     weights, made by scripts/bench/make-minilm-sized.ts into models/ when missing): minilm_* keys.
 * The peers' packages live in scripts/bench/peers/ (own package.json and lockfile, installed there by `npm ci` when
 * missing), out of erc-demos' own dependency tree.
 * The index is built with --projection none so every side ranks the same raw USE-lite vectors.
 * With --runs N, every key is the median over the N runs (errors: the sum); the machine is shared and noisy.
 * Writes docs/performance-results.md (medians and every run); prints the medians as one JSON object with --json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCorpus } from '../../src/corpus/load.js';
import { embedThreads } from '../../src/embed/create.js';
import { runChild } from './child-run.js';
import { runLoad, writeUtterances } from './load-client.js';
import { cpuByPart } from './cpu-parts.js';
import { cpuPerRequest, threadCpuMs } from './thread-cpu.js';
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
const PEERS = 'scripts/bench/peers';
/** Our service's query cache off: the peers have none, so the distinct load compares the same work. */
const CACHE_OFF = { ERC_DEMOS_EMBED_CACHE_MB: '0' };

/** The load files: distinct MELD test utterances (first occurrences, in order), all of them in order, and warm-up texts. */
interface Loads { distinct: string; replay: string; replayCount: number; warmUp: string }

type Served = Awaited<ReturnType<typeof startServeProcess>>;

/** Warm-up, then concurrency 1 and 16 on the distinct load; c16 also splits the server's CPU per request by thread. */
async function c1c16(server: Served, loads: Loads, c16Amount: number, workers: number) {
  await load(server.url, 4, 200, loads.distinct);
  const c1 = await load(server.url, 1, 1000, loads.distinct);
  const before = threadCpuMs(server.child.pid!);
  const c16 = await load(server.url, 16, c16Amount, loads.distinct);
  const cpu = cpuPerRequest(server.child.pid!, before, threadCpuMs(server.child.pid!), c16.requests, workers);
  server.child.kill('SIGTERM');
  await server.exited;
  return { c1, c16, cpu };
}

/** A counter's value in Prometheus text (0 when absent). */
async function counter(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(text.match(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm'))?.[1] ?? 0);
}

/** The replay load against a fresh server: warm-up on other texts (a cold cache), MELD test once in its order at c16. */
async function replay(indexDir: string, loads: Loads, env: NodeJS.ProcessEnv) {
  const server = await startServeProcess(['bin/erc-demos.mjs', 'serve', '--index', indexDir, '--port', '0'], env);
  await load(server.url, 4, 200, loads.warmUp);
  const [hits0, misses0] = [await counter(server.url, 'erc_demos_embed_cache_hits_total'), await counter(server.url, 'erc_demos_embed_cache_misses_total')];
  const result = await load(server.url, 16, loads.replayCount, loads.replay);
  const hits = (await counter(server.url, 'erc_demos_embed_cache_hits_total')) - hits0;
  const misses = (await counter(server.url, 'erc_demos_embed_cache_misses_total')) - misses0;
  server.child.kill('SIGTERM');
  await server.exited;
  return { ...result, hitRate: hits + misses > 0 ? hits / (hits + misses) : 0 };
}

const round = (x: number, digits = 1) => Number(x.toFixed(digits));

/** One whole run: build, our service, the peers, the replay load, the index alone, MiniLM (each server stopped before the next starts). */
async function benchOnce(runNumber: number, loads: Loads): Promise<Record<string, number>> {
  log('building the MELD train index ...');
  const indexDir = join(work, `meld-${runNumber}`);
  const build = await run(['bin/erc-demos.mjs', 'build', '--corpus', 'meld', '--data', values.data!, '--split', 'train', '--projection', 'none', '--out', indexDir]);
  if (build.code !== 0) throw new Error(`build failed: ${build.stderr}`);
  const count = (JSON.parse(readFileSync(join(indexDir, 'manifest.json'), 'utf8')) as { count: number }).count;
  log(`built ${count} utterances in ${build.seconds.toFixed(1)} s, peak RSS ${build.peakRssMb.toFixed(0)} MB`);

  const workers = embedThreads('serve');
  log('service (query cache off): warm-up, concurrency 1, concurrency 16 ...');
  const ours = await c1c16(await startServeProcess(['bin/erc-demos.mjs', 'serve', '--index', indexDir, '--port', '0'], CACHE_OFF), loads, 4000, workers);

  log('service under the CPU profiler (main thread), concurrency 16 ...');
  const profileDir = join(work, `profile-${runNumber}`);
  mkdirSync(profileDir);
  const profiled = await startServeProcess(['--cpu-prof', '--cpu-prof-dir', profileDir, 'bin/erc-demos.mjs', 'serve', '--index', indexDir, '--port', '0'], CACHE_OFF);
  await load(profiled.url, 4, 200, loads.distinct);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const profiledC16 = await load(profiled.url, 16, 2000, loads.distinct);
  const toUs = Number(process.hrtime.bigint() / 1000n);
  profiled.child.kill('SIGTERM');
  await profiled.exited;
  // Node names a thread's profile CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; the main thread is id 0.
  const mainProfile = readdirSync(profileDir).find((f) => f.split('.')[4] === '0');
  if (!mainProfile) throw new Error(`no main-thread CPU profile in ${profileDir}`);
  // The samples taken during the load only (not the start, nor the warm-up), per request of the load.
  const parts = cpuByPart(join(profileDir, mainProfile), fromUs, toUs);
  const perRequest = Object.fromEntries(Object.entries(parts).map(([part, ms]) => [`profile_main_ms_${part.replace(/\W+/g, '_')}`, round(ms / profiledC16.requests, 3)]));

  log('peer: LangChain.js selector + MemoryVectorStore + our embedder ...');
  const memory = await c1c16(await startServeProcess([...tsx, 'scripts/bench/bench-peer.ts', '--index', indexDir, '--port', '0']), loads, 4000, workers);
  log('peer B: LangChain.js selector + HNSWLib + our embedder ...');
  const peerB = await c1c16(await startServeProcess([...tsx, `${PEERS}/peer-hnswlib.ts`, '--index', indexDir, '--embeddings', 'ours', '--port', '0']), loads, 4000, workers);
  log('peer A: LangChain.js selector + HNSWLib + USE-lite on TensorFlow.js ...');
  const peerA = await c1c16(await startServeProcess([...tsx, `${PEERS}/peer-hnswlib.ts`, '--index', indexDir, '--embeddings', 'tfjs', '--port', '0']), loads, 2000, 0);

  log('replay: MELD test in its order, query cache on, then off ...');
  const cacheOn = await replay(indexDir, loads, {});
  const cacheOff = await replay(indexDir, loads, CACHE_OFF);

  log('the index alone: usearch and hnswlib-node ...');
  const indexBench = await run([...tsx, `${PEERS}/index-bench.ts`, '--index', indexDir, '--data', values.data!]);
  if (indexBench.code !== 0) throw new Error(`index bench failed: ${indexBench.stderr}`);
  const indexAlone = JSON.parse(indexBench.stdout.trim().split('\n').pop()!) as Record<string, number>;

  log('MiniLM-L6-sized sentence-transformer: build, concurrency 16 ...');
  const minilmDir = join(work, `minilm-${runNumber}`);
  const minilmBuild = await run(['bin/erc-demos.mjs', 'build', '--corpus', 'meld', '--data', values.data!, '--split', 'train', '--projection', 'none',
    '--embedder', `transformers:${MINILM}`, '--out', minilmDir]);
  if (minilmBuild.code !== 0) throw new Error(`MiniLM-sized build failed: ${minilmBuild.stderr}`);
  const minilm = await startServeProcess(['bin/erc-demos.mjs', 'serve', '--index', minilmDir, '--port', '0'], CACHE_OFF);
  await load(minilm.url, 4, 200, loads.distinct);
  const minilmC16 = await load(minilm.url, 16, 2000, loads.distinct);
  minilm.child.kill('SIGTERM');
  await minilm.exited;

  // The embedding-bound ceiling: every core doing nothing but the embedding a request needs (measured on the
  // embedder's threads during our c16 load); the main thread's and the rest's CPU are what keep us below it.
  const cores = cpus().length;
  const ceiling = (cores * 1000) / ours.cpu.embed_ms;
  const { c1, c16 } = ours;
  return {
    build_items: count,
    build_seconds: round(build.seconds, 2),
    build_items_per_s: round(count / build.seconds),
    build_peak_rss_mb: round(build.peakRssMb, 0),
    c1_p50_ms: c1.p50_ms,
    c1_p99_ms: c1.p99_ms,
    c1_rps: round(c1.rps),
    c16_p50_ms: c16.p50_ms,
    c16_p99_ms: c16.p99_ms,
    c16_rps: round(c16.rps),
    c16_cpu_main_ms: ours.cpu.main_ms,
    c16_cpu_embed_ms: ours.cpu.embed_ms,
    c16_cpu_other_ms: ours.cpu.other_ms,
    c16_cpu_total_ms: ours.cpu.total_ms,
    ceiling_rps: round(ceiling),
    ceiling_share: round(c16.rps / ceiling, 3),
    peer_c1_p50_ms: memory.c1.p50_ms,
    peer_c16_p50_ms: memory.c16.p50_ms,
    peer_c16_p99_ms: memory.c16.p99_ms,
    peer_c16_rps: round(memory.c16.rps),
    rps_ratio_vs_peer: round(c16.rps / memory.c16.rps, 2),
    peer_a_c1_p50_ms: peerA.c1.p50_ms,
    peer_a_c1_p99_ms: peerA.c1.p99_ms,
    peer_a_c16_p50_ms: peerA.c16.p50_ms,
    peer_a_c16_p99_ms: peerA.c16.p99_ms,
    peer_a_c16_rps: round(peerA.c16.rps),
    peer_a_rps_ratio: round(c16.rps / peerA.c16.rps, 2),
    peer_b_c1_p50_ms: peerB.c1.p50_ms,
    peer_b_c1_p99_ms: peerB.c1.p99_ms,
    peer_b_c16_p50_ms: peerB.c16.p50_ms,
    peer_b_c16_p99_ms: peerB.c16.p99_ms,
    peer_b_c16_rps: round(peerB.c16.rps),
    peer_b_rps_ratio: round(c16.rps / peerB.c16.rps, 2),
    peer_b_c16_cpu_main_ms: peerB.cpu.main_ms,
    peer_b_c16_cpu_total_ms: peerB.cpu.total_ms,
    replay_requests: loads.replayCount,
    replay_cache_hit_rate: round(cacheOn.hitRate, 3),
    replay_rps_cache_on: round(cacheOn.rps),
    replay_rps_cache_off: round(cacheOff.rps),
    replay_c16_p50_ms_cache_on: cacheOn.p50_ms,
    replay_c16_p50_ms_cache_off: cacheOff.p50_ms,
    ...indexAlone,
    profile_c16_rps: round(profiledC16.rps),
    ...perRequest,
    minilm_build_items_per_s: round(count / minilmBuild.seconds),
    minilm_c16_p50_ms: minilmC16.p50_ms,
    minilm_c16_p99_ms: minilmC16.p99_ms,
    minilm_c16_rps: round(minilmC16.rps),
    errors: c1.errors + c16.errors + cacheOn.errors + cacheOff.errors + minilmC16.errors,
    peer_errors: memory.c1.errors + memory.c16.errors + peerA.c1.errors + peerA.c16.errors + peerB.c1.errors + peerB.c16.errors,
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
  if (!existsSync(join(PEERS, 'node_modules', '@langchain', 'community'))) {
    log(`installing the peers' packages in ${PEERS} (npm ci) ...`);
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PEERS, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const test = loadCorpus({ format: 'meld', data: values.data!, splits: ['test'] });
  const replayFile = writeUtterances(work, test.dialogues);
  const all = JSON.parse(readFileSync(replayFile, 'utf8')) as string[];
  const distinct = join(work, 'distinct.json');
  writeFileSync(distinct, JSON.stringify([...new Set(all)]));
  const warmUp = join(work, 'warm-up.json');
  writeFileSync(warmUp, JSON.stringify(Array.from({ length: 200 }, (_, i) => `warm-up sentence number ${i}, not from MELD`)));
  const loads: Loads = { distinct, replay: replayFile, replayCount: all.length, warmUp };
  const results: Record<string, number>[] = [];
  for (let r = 1; r <= runs; r++) {
    log(`run ${r} of ${runs}`);
    results.push(await benchOnce(r, loads));
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
