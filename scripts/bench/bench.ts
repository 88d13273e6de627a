/**
 * Benchmark on MELD (npm run bench -- [--json] [--runs N] [--rounds R] [--data ../shared/data/meld]); each run does:
 *  1. a full MELD train index build (the CLI as a child process): utterances/s over its wall time, peak RSS;
 *  2. the service on that index, driven by wrk (autocannon where wrk is not installed) in a separate process with the distinct MELD test utterances
 *     (in order, cycled), k=8, at concurrency 1 and 16: p50/p99 latency, requests/s, errors; its query cache off
 *     (ERC_DEMOS_EMBED_CACHE_MB=0), as the peers have none; the server's CPU per request by thread during the
 *     concurrency-16 load (/proc), and from it the embedding-bound ceiling of this machine and our share of it;
 *     Our service and the peers are up together and take the concurrency-16 load in turn, R rounds (default 3) in a
 *     rotating order, each side's figures the medians of its rounds, so that other work on the machine falls on all;
 *  3. the same loads against the peers: LangChain.js' SemanticSimilarityExampleSelector over a MemoryVectorStore with
 *     our embedder (scripts/bench/bench-peer.ts, the row kept from before), and over @langchain/community's HNSWLib
 *     with USE-lite on TensorFlow.js (peer A) or with our embedder (peer B) (scripts/bench/peers/peer-hnswlib.ts), and
 *     peer B once more with its graph searching at our ef (peer_b_ef_* keys: the same recall as ours);
 *  4. the replay load: MELD test once through in its order, repeats included, at concurrency 16, against the service
 *     with its query cache on (the default) and off, a fresh server each time, alternating, R times each: hit rate
 *     (from /metrics) and requests/s, medians;
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
import { median } from './median.js';
import { fastestClient, runLoad, writeUtterances, type Load } from './load-client.js';
import { cpuByPart } from './cpu-parts.js';
import { cpuPerRequest, threadCpuMs, type CpuSplit } from './thread-cpu.js';
import { startServeProcess } from '../../test/support/serve-process.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false }, data: { type: 'string', default: '../shared/data/meld' }, runs: { type: 'string', default: '1' },
    // Interleaved c16 rounds per side (and replay rounds per cache setting) within a run: the machine is shared.
    rounds: { type: 'string', default: '3' },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got "${values.rounds}"`);
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);
const work = mkdtempSync(join(tmpdir(), 'erc-bench-'));
const tsx = ['--import', 'tsx'];

const run = (args: string[]) => runChild(args);

/** wrk where installed (Debian's package), else autocannon: load-client.ts says why. */
const client = fastestClient();
const load = (url: string, connections: number, amount: number, utterances: string) => runLoad(url, utterances, { connections, amount, seconds: 30, client });

const MINILM = 'models/minilm-l6-random';
const PEERS = 'scripts/bench/peers';
/** Our service's query cache off: the peers have none, so the distinct load compares the same work. */
const CACHE_OFF = { ERC_DEMOS_EMBED_CACHE_MB: '0' };

/** The load files: distinct MELD test utterances (first occurrences, in order), all of them in order, and warm-up texts. */
interface Loads { distinct: string; replay: string; replayCount: number; warmUp: string }

type Served = Awaited<ReturnType<typeof startServeProcess>>;

/** One server of the comparison: its warm-up and c1 load, then its c16 loads, one per round. */
interface Side { name: string; server: Served; c16Amount: number; workers: number; c1?: Load; c16: Load[]; cpu: CpuSplit[] }

/**
 * The comparison: every server up at once (idle ones cost nothing: no thread spins), each warmed up and loaded at
 * concurrency 1, then `rounds` rounds of concurrency 16 in which every server takes its turn, the order rotating each
 * round, so a burst of other work on this shared machine falls on every side alike; a side's figures are the
 * medians of its rounds. The server's CPU per request by thread (/proc) is taken over each c16 load.
 */
async function compare(sides: Side[], loads: Loads, rounds: number): Promise<void> {
  for (const side of sides) {
    log(`${side.name}: warm-up, concurrency 1 ...`);
    await load(side.server.url, 4, 200, loads.distinct);
    side.c1 = await load(side.server.url, 1, 1000, loads.distinct);
  }
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < sides.length; i++) {
      const side = sides[(i + r) % sides.length];
      log(`round ${r + 1} of ${rounds}: ${side.name}, concurrency 16 ...`);
      const before = threadCpuMs(side.server.child.pid!);
      const c16 = await load(side.server.url, 16, side.c16Amount, loads.distinct);
      side.cpu.push(cpuPerRequest(side.server.child.pid!, before, threadCpuMs(side.server.child.pid!), c16.requests, side.workers));
      side.c16.push(c16);
    }
  }
  for (const side of sides) side.server.child.kill('SIGTERM');
  await Promise.all(sides.map((side) => side.server.exited));
}

/** Medians of a side's c16 rounds. */
function c16Of(side: Side) {
  const m = (f: (l: Load) => number) => median(side.c16.map(f));
  const cpu = (f: (c: CpuSplit) => number) => median(side.cpu.map(f));
  return {
    rps: m((l) => l.rps), p50_ms: m((l) => l.p50_ms), p99_ms: m((l) => l.p99_ms), errors: side.c16.reduce((n, l) => n + l.errors, 0) + side.c1!.errors,
    cpu: { main_ms: cpu((c) => c.main_ms), embed_ms: cpu((c) => c.embed_ms), other_ms: cpu((c) => c.other_ms), total_ms: cpu((c) => c.total_ms) },
  };
}

/**
 * A peer's keys, named `<prefix>_...`: c1 and c16 p50/p99, c16 requests/s, `<prefix>_rps_ratio` (ours / theirs at
 * c16) and, with `cpu`, its c16 CPU a request by thread.
 */
function peerKeys(prefix: string, side: Side, oursRps: number, cpu = false): Record<string, number> {
  const c16 = c16Of(side);
  return {
    [`${prefix}_c1_p50_ms`]: side.c1!.p50_ms,
    [`${prefix}_c1_p99_ms`]: side.c1!.p99_ms,
    [`${prefix}_c16_p50_ms`]: c16.p50_ms,
    [`${prefix}_c16_p99_ms`]: c16.p99_ms,
    [`${prefix}_c16_rps`]: round(c16.rps),
    [`${prefix}_rps_ratio`]: round(oursRps / c16.rps, 2),
    ...(cpu ? { [`${prefix}_c16_cpu_main_ms`]: c16.cpu.main_ms, [`${prefix}_c16_cpu_embed_ms`]: c16.cpu.embed_ms, [`${prefix}_c16_cpu_total_ms`]: c16.cpu.total_ms,
      [`${prefix}_c16_embed_busy`]: embedBusy(c16.rps, c16.cpu.embed_ms, side.workers) } : {}),
  };
}

/**
 * The share of the embedder's threads' time they were busy at `rps`: near 1, the embedder is what bounds the rate,
 * and no service layer over the same embedder can answer more.
 */
const embedBusy = (rps: number, embedMs: number, workers: number) => round((rps * embedMs) / (1000 * workers), 3);

/** A counter's value in Prometheus text (0 when absent). */
async function counter(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(text.match(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm'))?.[1] ?? 0);
}

/** The replay load against a fresh server: warm-up on other texts (a cold cache), MELD test once in its order at c16. */
async function replayOnce(indexDir: string, loads: Loads, env: NodeJS.ProcessEnv) {
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

/** The replay load with the cache on and off, alternating (a fresh server each time), `rounds` times each: medians. */
async function replay(indexDir: string, loads: Loads, rounds: number) {
  const on: Awaited<ReturnType<typeof replayOnce>>[] = [];
  const off: Awaited<ReturnType<typeof replayOnce>>[] = [];
  for (let r = 0; r < rounds; r++) {
    log(`replay round ${r + 1} of ${rounds}: MELD test in its order, query cache on and off ...`);
    if (r % 2 === 0) on.push(await replayOnce(indexDir, loads, {}));
    off.push(await replayOnce(indexDir, loads, CACHE_OFF));
    if (r % 2 === 1) on.push(await replayOnce(indexDir, loads, {}));
  }
  const summary = (xs: typeof on) => ({ rps: median(xs.map((x) => x.rps)), p50_ms: median(xs.map((x) => x.p50_ms)), hitRate: median(xs.map((x) => x.hitRate)), errors: xs.reduce((n, x) => n + x.errors, 0) });
  return { cacheOn: summary(on), cacheOff: summary(off) };
}

const round = (x: number, digits = 1) => Number(x.toFixed(digits));

/** One whole run: build, our service, the peers, the replay load, the index alone, MiniLM (each server stopped before the next starts). */
async function benchOnce(runNumber: number, loads: Loads): Promise<Record<string, number>> {
  log('building the MELD train index ...');
  const indexDir = join(work, `meld-${runNumber}`);
  const build = await run(['bin/erc-demos.mjs', 'build', '--corpus', 'meld', '--data', values.data!, '--split', 'train', '--projection', 'none', '--out', indexDir]);
  if (build.code !== 0) throw new Error(`build failed: ${build.stderr}`);
  const { count, hnsw: { efSearch } } = JSON.parse(readFileSync(join(indexDir, 'manifest.json'), 'utf8')) as { count: number; hnsw: { efSearch: number } };
  log(`built ${count} utterances in ${build.seconds.toFixed(1)} s, peak RSS ${build.peakRssMb.toFixed(0)} MB`);

  const workers = embedThreads('serve');
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

  log('starting our service (query cache off) and the peers ...');
  const side = async (name: string, args: string[], c16Amount: number, sideWorkers: number, env: NodeJS.ProcessEnv = {}): Promise<Side> =>
    ({ name, server: await startServeProcess(args, env), c16Amount, workers: sideWorkers, c16: [], cpu: [] });
  const sides = [
    await side('ours', ['bin/erc-demos.mjs', 'serve', '--index', indexDir, '--port', '0'], 3000, workers, CACHE_OFF),
    await side('peer B (selector + HNSWLib + our embedder)', [...tsx, `${PEERS}/peer-hnswlib.ts`, '--index', indexDir, '--embeddings', 'ours', '--port', '0'], 3000, workers),
    // Peer B searching at our ef (the index's efSearch): the same recall, so the difference left is the service layer.
    await side('peer B at our ef', [...tsx, `${PEERS}/peer-hnswlib.ts`, '--index', indexDir, '--embeddings', 'ours', '--ef', String(efSearch), '--port', '0'], 3000, workers),
    await side('peer A (selector + HNSWLib + TF.js USE-lite)', [...tsx, `${PEERS}/peer-hnswlib.ts`, '--index', indexDir, '--embeddings', 'tfjs', '--port', '0'], 1000, 0),
    await side('peer (selector + MemoryVectorStore + our embedder)', [...tsx, 'scripts/bench/bench-peer.ts', '--index', indexDir, '--port', '0'], 500, workers),
  ];
  await compare(sides, loads, rounds);
  const [oursSide, peerBSide, peerBEfSide, peerASide, memorySide] = sides;
  const [c1, c16, peerB, peerBEf, peerA, memory] = [oursSide.c1!, c16Of(oursSide), c16Of(peerBSide), c16Of(peerBEfSide), c16Of(peerASide), c16Of(memorySide)];

  const { cacheOn, cacheOff } = await replay(indexDir, loads, rounds);

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
  const ceiling = (cores * 1000) / c16.cpu.embed_ms;
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
    c16_cpu_main_ms: c16.cpu.main_ms,
    c16_cpu_embed_ms: c16.cpu.embed_ms,
    c16_cpu_other_ms: c16.cpu.other_ms,
    c16_cpu_total_ms: c16.cpu.total_ms,
    c16_embed_busy: embedBusy(c16.rps, c16.cpu.embed_ms, workers),
    ceiling_rps: round(ceiling),
    ceiling_share: round(c16.rps / ceiling, 3),
    peer_c1_p50_ms: memorySide.c1!.p50_ms,
    peer_c16_p50_ms: memory.p50_ms,
    peer_c16_p99_ms: memory.p99_ms,
    peer_c16_rps: round(memory.rps),
    rps_ratio_vs_peer: round(c16.rps / memory.rps, 2),
    ...peerKeys('peer_a', peerASide, c16.rps),
    ...peerKeys('peer_b', peerBSide, c16.rps, true),
    peer_b_ef: efSearch,
    ...peerKeys('peer_b_ef', peerBEfSide, c16.rps, true),
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
    errors: c16.errors + cacheOn.errors + cacheOff.errors + minilmC16.errors,
    peer_errors: memory.errors + peerA.errors + peerB.errors + peerBEf.errors,
  };
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
    load_client: client,
    runs,
  };
  for (const k of keys) summary[k] = k.endsWith('errors') ? results.reduce((s, r) => s + r[k], 0) : median(results.map((r) => r[k]));
  const header = `| key | median of ${runs} | ${results.map((_, i) => `run ${i + 1}`).join(' | ')} |\n|---|---|${results.map(() => '---|').join('')}`;
  const rows = keys.map((k) => `| ${k} | ${summary[k]} | ${results.map((r) => r[k]).join(' | ')} |`).join('\n');
  writeFileSync('docs/performance-results.md', `# Performance (generated)\n\nWritten by \`npm run bench -- --runs ${runs}\` on ${new Date().toISOString().slice(0, 10)}, ${summary.machine}. Latencies are ${client}'s p50/p99 within a run; the first column is the median of the runs (errors: the sum). See docs/PERFORMANCE.md for the method.\n\n${header}\n${rows}\n`);
  if (values.json) console.log(JSON.stringify(summary));
  else console.log(`${header}\n${rows}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
