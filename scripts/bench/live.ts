/**
 * The cost of live writes (issue 24, item 3): `npm run live -- [--json] [--quick] [--only writes,load,lag,faults]`
 *  writes  For each size (--sizes, default 10000,100000 utterances; an index of MELD train+dev repeated with
 *          variations, scripts/bench/live-corpus.ts, built with the CLI's defaults and timed): DemoService opens it (as
 *          `erc-demos add` does); then --reps times, alternating which goes first, one write of 1,000 new utterances
 *          (100 dialogues of 10 turns, MELD text under variations no index copy uses, new ids) through addDialogues,
 *          and the embedding alone of another 1,000 such utterances with the same embedder (query cache off). Medians;
 *          the write against the embedding and against the index's build time; and the reopening with the writes in
 *          the log (replayed) against the first opening.
 *  load    A real `serve` (keys file with a write key; reads anonymous, --allow-anonymous) on the smallest size: GET /demonstrations (k=8, MELD test utterances,
 *          autocannon in its own process, query cache off) for --seconds at concurrency 1 and 16, idle and while a
 *          writer posts one dialogue of 10 turns after another through POST /indexes/{name}/dialogues (back to back, or
 *          --write-rate writes a second); --rounds such pairs per concurrency (default 3; the p99 ratio is their
 *          median), then idle again after.
 *  lag     Two `serve` on one folder (the smallest size): --lag-writes writes through one, each then polled on the
 *          other (GET /demonstrations for its text, every 10 ms) until it answers with the written dialogue.
 *  faults  The kill -9 run (scripts/reliability/live-faults.ts) on a MELD dev index: --kills kills.
 * Built indexes are cached in --cache (default <tmpdir>/erc-demos-live-cache; --rebuild builds them again, and then
 * their build time is this run's); the corpora are written there and deleted after the build.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readManifest } from '../../src/index/open.js';
import { DemoService } from '../../src/service/service.js';
import { settingsFromEnv } from '../../src/settings.js';
import type { Dialogue } from '../../src/corpus/types.js';
import { runFaults, type FaultReport } from '../reliability/live-faults.js';
import { runChild } from './child-run.js';
import { corpusFile, meldDialogues, writeIndexCorpus, writeSet, type LiveDialogue } from './live-corpus.js';
import { runLoad, writeUtterances, type Load } from './load-client.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: 'writes,load,lag,faults' },
    data: { type: 'string', default: '../shared/data' },
    sizes: { type: 'string' },
    reps: { type: 'string' },
    seconds: { type: 'string' },
    'lag-writes': { type: 'string' },
    kills: { type: 'string' },
    'write-rate': { type: 'string', default: '0' },
    rounds: { type: 'string' },
    seed: { type: 'string', default: '1' },
    cache: { type: 'string', default: join(tmpdir(), 'erc-demos-live-cache') },
    rebuild: { type: 'boolean', default: false },
  },
});
const quick = values.quick!;
const positive = (name: string, v: string | undefined, fallback: number): number => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${v}"`);
  return n;
};
const sizes = (values.sizes ?? (quick ? '10000' : '10000,100000')).split(',').map((s) => positive('sizes', s.trim(), 0)).sort((a, b) => a - b);
const reps = positive('reps', values.reps, quick ? 2 : 5);
const seconds = positive('seconds', values.seconds, quick ? 4 : 10);
/** Idle-then-writing pairs per concurrency in the load phase: the p99 ratio is their median (one pair is noise here). */
const rounds = positive('rounds', values.rounds, quick ? 1 : 3);
const lagWrites = positive('lag-writes', values['lag-writes'], quick ? 5 : 30);
const kills = positive('kills', values.kills, quick ? 4 : 50);
/** Writes per second the load phase's writer keeps to (0: one after another, as fast as they are acknowledged). */
const writeRate = Number(values['write-rate']);
if (!(writeRate >= 0)) throw new Error(`--write-rate must be a number >= 0, got "${values['write-rate']}"`);
const only = new Set(values.only!.split(',').map((s) => s.trim()));
for (const phase of only) if (!['writes', 'load', 'lag', 'faults'].includes(phase)) throw new Error(`--only: unknown phase "${phase}"`);
const cache = resolve(values.cache!);
mkdirSync(cache, { recursive: true });
const work = join(cache, `run-${process.pid}`);
mkdirSync(work, { recursive: true });
const BIN = resolve('bin/erc-demos.mjs');
const meldDir = join(values.data!, 'meld');
const log = (s: string) => process.stderr.write(`[live ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const round = (x: number, digits = 1) => Number(x.toFixed(digits));
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round2 = (x: number) => round(x, 2);
/** A process's resident memory now, from /proc (MB). */
const rssMb = (pid: number) => round(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);
const quantile = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Every process this script starts, ended on any exit. */
const children = new Set<ChildProcess>();
const endChildren = () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
};
process.on('exit', endChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    endChildren();
    process.exit(130);
  });
}

function removeLogs(dir: string): void {
  for (const f of readdirSync(dir)) if (/^writes-.*\.sqlite(-wal|-shm|-journal)?$/.test(f)) rmSync(join(dir, f), { force: true });
}

interface Built { dir: string; seconds: number; cached: boolean; built_at: string; space: string }

/** The index of `size` utterances, from the cache or built now (its corpus deleted once built). */
async function ensureIndex(base: readonly Dialogue[], size: number): Promise<Built> {
  const dir = join(cache, `index-${size}`);
  const record = join(cache, `index-${size}.json`);
  if (!values.rebuild && existsSync(record) && existsSync(join(dir, 'manifest.json'))) {
    removeLogs(dir);
    return { ...(JSON.parse(readFileSync(record, 'utf8')) as Omit<Built, 'cached'>), dir, cached: true };
  }
  rmSync(dir, { recursive: true, force: true });
  const file = corpusFile(cache, size);
  log(`${size}: writing the corpus ...`);
  await writeIndexCorpus(base, size, file);
  log(`${size}: building (the CLI's defaults) ...`);
  const run = await runChild([BIN, 'build', '--corpus', 'jsonl', '--corpus-name', 'live', '--data', file, '--split', 'train', '--out', dir]);
  rmSync(file, { force: true });
  if (run.code !== 0) throw new Error(`build of ${size} failed: ${run.stderr.slice(-2000)}`);
  const manifest = readManifest(dir);
  const built = { dir, seconds: round(run.seconds), built_at: new Date().toISOString(), space: manifest.projection ? `lda s=${manifest.projection.shrinkage} b=${manifest.projection.blend}` : 'raw' };
  writeFileSync(record, JSON.stringify(built));
  log(`${size}: built in ${built.seconds} s`);
  return { ...built, cached: false };
}

/** The fault run's index: MELD dev, the CLI's defaults. */
async function ensureFaultIndex(): Promise<string> {
  const dir = join(cache, 'index-meld-dev');
  if (!values.rebuild && existsSync(join(dir, 'manifest.json'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  const run = await runChild([BIN, 'build', '--corpus', 'meld', '--data', meldDir, '--split', 'dev', '--out', dir]);
  if (run.code !== 0) throw new Error(`build of MELD dev failed: ${run.stderr.slice(-2000)}`);
  return dir;
}

const texts = (dialogues: readonly LiveDialogue[]) => dialogues.flatMap((d) => d.turns.map((t) => t.text));

interface WritesResult {
  utterances: number;
  build_s: number;
  build_cached: boolean;
  space: string;
  open_s: number;
  write_1000_ms: number[];
  embed_1000_ms: number[];
  write_median_ms: number;
  embed_median_ms: number;
  write_over_embed: number;
  write_over_build: number;
  utterances_per_s: number;
  reopen_s: number;
  reopen_rows_written: number;
}

async function writesPhase(base: readonly Dialogue[], size: number): Promise<WritesResult> {
  const built = await ensureIndex(base, size);
  removeLogs(built.dir);
  const settings = { ...settingsFromEnv(), embedCacheMb: 0 };
  let t = performance.now();
  const service = await DemoService.load([built.dir], { settings, role: 'batch' });
  const openS = (performance.now() - t) / 1000;
  const { index } = service.index();
  const embedder = service.embedderFor(index);
  const write: number[] = [];
  const embed: number[] = [];
  const nonce = randomBytes(3).toString('hex');
  try {
    await embedder.embed(texts(writeSet(base, 999, 200, 10, 'warm')));
    for (let r = 0; r < reps; r++) {
      const toWrite = writeSet(base, 2 * r, 1000, 10, `live-${nonce}`);
      const toEmbed = texts(writeSet(base, 2 * r + 1, 1000, 10, 'embed'));
      const doWrite = async () => {
        const started = performance.now();
        const result = await service.addDialogues({ dialogues: toWrite });
        write.push(performance.now() - started);
        if (result.dialogues.length !== toWrite.length) throw new Error('the write answered another number of dialogues');
      };
      const doEmbed = async () => {
        const started = performance.now();
        await embedder.embed(toEmbed);
        embed.push(performance.now() - started);
      };
      if (r % 2 === 0) {
        await doWrite();
        await doEmbed();
      } else {
        await doEmbed();
        await doWrite();
      }
      log(`${size}: write ${Math.round(write[r])} ms, embedding alone ${Math.round(embed[r])} ms`);
    }
  } finally {
    await service.close();
  }
  t = performance.now();
  const reopened = await DemoService.load([built.dir], { settings, role: 'batch' });
  const reopenS = (performance.now() - t) / 1000;
  const rowsWritten = reopened.writtenSummary(reopened.index().name).added;
  await reopened.close();
  removeLogs(built.dir);
  const w = median(write);
  const e = median(embed);
  return {
    utterances: size, build_s: built.seconds, build_cached: built.cached, space: built.space, open_s: round(openS, 2),
    write_1000_ms: write.map((x) => Math.round(x)), embed_1000_ms: embed.map((x) => Math.round(x)),
    write_median_ms: Math.round(w), embed_median_ms: Math.round(e), write_over_embed: round(w / e, 2),
    write_over_build: round(w / 1000 / built.seconds, 4), utterances_per_s: Math.round(1000 / (w / 1000)),
    reopen_s: round(reopenS, 2), reopen_rows_written: rowsWritten,
  };
}

interface Serve { child: ChildProcess; url: string; exited: Promise<void> }

/** `erc-demos serve` on `dir` with the keys file; resolves once it listens. */
function serve(dir: string, keysFile: string, env: Record<string, string> = {}): Promise<Serve> {
  return new Promise((resolveServe, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--index', dir, '--port', '0', '--keys', keysFile, '--allow-anonymous'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ERC_DEMOS_LOG_LEVEL: 'warn', ...env } });
    children.add(child);
    let stderr = '';
    const exited = new Promise<void>((r) => child.once('exit', () => {
      children.delete(child);
      r();
    }));
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c;
      const m = stderr.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) resolveServe({ child, url: m[1], exited });
    });
    void exited.then(() => reject(new Error(`serve exited: ${stderr.slice(-2000)}`)));
  });
}

async function stop(server: Serve): Promise<void> {
  server.child.kill('SIGTERM');
  await server.exited;
}

function keys(): { file: string; key: string } {
  const key = randomBytes(32).toString('base64url');
  const file = join(work, 'keys.json');
  writeFileSync(file, JSON.stringify({ keys: [{ name: 'ops', scope: 'write', sha256: createHash('sha256').update(key).digest('hex') }] }));
  return { file, key };
}

async function post(url: string, name: string, key: string, dialogues: readonly LiveDialogue[]): Promise<{ seq: number }> {
  const res = await fetch(`${url}/indexes/${encodeURIComponent(name)}/dialogues`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ dialogues }),
  });
  const body = (await res.json()) as { seq: number };
  if (res.status !== 201) throw new Error(`POST answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

/** One idle load, then one while writing, at one concurrency. */
interface LoadRound { idle: Load; writes: Load; p99_ratio: number; writes_acked: number; write_p50_ms: number; write_p99_ms: number; write_utterances_per_s: number }

/** A concurrency's rounds (the first one's loads in full), the median of their p99 ratios, and the idle load after them all. */
interface LoadPair extends LoadRound { rounds: Omit<LoadRound, 'idle' | 'writes'>[]; round_p99_ms: { idle: number; writes: number }[]; after: Load }

async function loadPhase(base: readonly Dialogue[], queries: readonly Dialogue[]): Promise<{ utterances: number; seconds: number; rounds: number; write_rate: number; c1: LoadPair; c16: LoadPair; rows_written: number; rss: { before_mb: number; after_mb: number; kb_per_written_row: number } }> {
  const built = await ensureIndex(base, sizes[0]);
  removeLogs(built.dir);
  const { file, key } = keys();
  const utterances = writeUtterances(work, queries);
  const server = await serve(built.dir, file, { ERC_DEMOS_EMBED_CACHE_MB: '0' });
  const name = readManifest(built.dir).name;
  let set = 0;
  const nonce = randomBytes(3).toString('hex');
  /** Posts one 10-turn dialogue after another until stopped; their latencies. */
  const writer = () => {
    let running = true;
    const latencies: number[] = [];
    const done = (async () => {
      while (running) {
        const dialogue = writeSet(base, 1000 + set, 10, 10, `load-${nonce}`);
        set++;
        const started = performance.now();
        await post(server.url, name, key, dialogue);
        latencies.push(performance.now() - started);
        if (writeRate > 0) await sleep(Math.max(0, 1000 / writeRate - (performance.now() - started)));
      }
    })();
    return { stop: async () => {
      running = false;
      await done;
      return latencies;
    } };
  };
  try {
    await runLoad(server.url, utterances, { connections: 4, amount: 200, seconds: 30 });
    const rssBefore = rssMb(server.child.pid!);
    const done: Record<'c1' | 'c16', LoadRound[]> = { c1: [], c16: [] };
    for (let n = 1; n <= rounds; n++) {
      for (const c of [1, 16] as const) {
        log(`load: round ${n}/${rounds}, concurrency ${c}, idle ...`);
        const idle = await runLoad(server.url, utterances, { connections: c, seconds });
        log(`load: round ${n}/${rounds}, concurrency ${c}, while writing ...`);
        const w = writer();
        await sleep(200);
        const writes = await runLoad(server.url, utterances, { connections: c, seconds });
        const latencies = await w.stop();
        done[`c${c}`].push({
          idle, writes, p99_ratio: round2(writes.p99_ms / idle.p99_ms), writes_acked: latencies.length, write_p50_ms: Math.round(median(latencies)),
          write_p99_ms: Math.round(quantile(latencies, 0.99)), write_utterances_per_s: round((latencies.length * 10) / seconds),
        });
      }
    }
    const result: Partial<Record<'c1' | 'c16', LoadPair>> = {};
    for (const c of [1, 16] as const) {
      log(`load: concurrency ${c}, idle after the writes ...`);
      const after = await runLoad(server.url, utterances, { connections: c, seconds });
      const all = done[`c${c}`];
      result[`c${c}`] = {
        ...all[0], after, p99_ratio: round2(median(all.map((r) => r.p99_ratio))),
        rounds: all.map(({ idle: _idle, writes: _writes, ...rest }) => rest), round_p99_ms: all.map((r) => ({ idle: r.idle.p99_ms, writes: r.writes.p99_ms })),
      };
    }
    const indexes = (await (await fetch(`${server.url}/indexes`, { headers: { authorization: `Bearer ${key}` } })).json()) as { indexes: { written?: { added: number } }[] };
    const rowsWritten = indexes.indexes[0]?.written?.added ?? -1;
    // Serving memory against the rows written: RSS after the warm-up and after every load (GC's timing moves it some).
    const rss = { before_mb: rssBefore, after_mb: rssMb(server.child.pid!) };
    return {
      utterances: sizes[0], seconds, rounds, write_rate: writeRate, c1: result.c1!, c16: result.c16!, rows_written: rowsWritten,
      rss: { ...rss, kb_per_written_row: round(((rss.after_mb - rss.before_mb) * 1024) / Math.max(1, rowsWritten), 2) },
    };
  } finally {
    await stop(server);
    removeLogs(built.dir);
  }
}

interface LagResult { writes: number; poll_ms: number; median_ms: number; p90_ms: number; max_ms: number; min_ms: number; read_your_writes: number; lags_ms: number[] }

async function lagPhase(base: readonly Dialogue[]): Promise<LagResult> {
  const built = await ensureIndex(base, sizes[0]);
  removeLogs(built.dir);
  const { file, key } = keys();
  const pollMs = settingsFromEnv().writesPollMs;
  const [a, b] = await Promise.all([serve(built.dir, file), serve(built.dir, file)]);
  const name = readManifest(built.dir).name;
  const nonce = randomBytes(3).toString('hex');
  const top = async (server: Serve, text: string): Promise<string | undefined> => {
    const res = await fetch(`${server.url}/demonstrations?k=1&utterance=${encodeURIComponent(text)}`, { headers: { authorization: `Bearer ${key}` } });
    return ((await res.json()) as { demonstrations: { dialogue: string }[] }).demonstrations[0]?.dialogue;
  };
  const lags: number[] = [];
  let readYourWrites = 0;
  try {
    for (let n = 0; n < lagWrites; n++) {
      const dialogue = writeSet(base, 2000 + n, 2, 2, `lag-${nonce}`);
      const text = dialogue[0].turns[0].text;
      // Warm B's query cache for the text, so each poll costs a search, not an embedding.
      await top(b, text);
      await sleep(Math.random() * 300);
      await post(a.url, name, key, dialogue);
      const acked = performance.now();
      if ((await top(a, text)) === dialogue[0].id) readYourWrites++;
      for (;;) {
        if ((await top(b, text)) === dialogue[0].id) break;
        if (performance.now() - acked > 30_000) throw new Error(`the other serve did not answer with ${dialogue[0].id} within 30 s`);
        await sleep(10);
      }
      lags.push(performance.now() - acked);
    }
  } finally {
    await Promise.all([stop(a), stop(b)]);
    removeLogs(built.dir);
  }
  return {
    writes: lags.length, poll_ms: pollMs, median_ms: Math.round(median(lags)), p90_ms: Math.round(quantile(lags, 0.9)),
    max_ms: Math.round(Math.max(...lags)), min_ms: Math.round(Math.min(...lags)), read_your_writes: readYourWrites, lags_ms: lags.map((x) => Math.round(x)),
  };
}

const started = performance.now();
const result: {
  machine: { cores: number; cpu: string | undefined; mem_gib: number; node: string; load_at_start: number[] };
  command: string;
  writes?: WritesResult[];
  load?: Awaited<ReturnType<typeof loadPhase>>;
  lag?: LagResult;
  faults?: Omit<FaultReport, 'rounds'> & { problems: string[] };
  targets?: Record<string, boolean>;
  seconds?: number;
} = {
  machine: { cores: cpus().length, cpu: cpus()[0]?.model, mem_gib: Math.round(totalmem() / 2 ** 30), node: process.version, load_at_start: loadavg().map((x) => round(x, 2)) },
  command: ['npm run live', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
};
try {
  log(`phases ${[...only].join(', ')}; sizes ${sizes.join(', ')}; cache ${cache}`);
  const { base, queries } = meldDialogues(meldDir);
  if (only.has('writes')) {
    result.writes = [];
    for (const size of sizes) result.writes.push(await writesPhase(base, size));
  }
  if (only.has('load')) result.load = await loadPhase(base, queries);
  if (only.has('lag')) result.lag = await lagPhase(base);
  if (only.has('faults')) {
    const dir = await ensureFaultIndex();
    const report = await runFaults({ index: dir, kills, seed: Number(values.seed), maxKillMs: 2500, children, log: (s) => log(`faults: ${s}`) });
    const { rounds, ...summary } = report;
    result.faults = { ...summary, problems: rounds.flatMap((r) => r.problems.map((p) => `kill ${r.round} (${r.door}, ${r.point}): ${p}`)) };
  }
  const targets: Record<string, boolean> = {};
  const biggest = result.writes?.[result.writes.length - 1];
  if (biggest) targets[`write_1000_under_tenth_of_build_${biggest.utterances}`] = biggest.write_over_build < 0.1;
  if (result.load) {
    targets.c1_p99_under_writes_within_2x_idle = result.load.c1.p99_ratio <= 2;
    targets.c16_p99_under_writes_within_2x_idle = result.load.c16.p99_ratio <= 2;
  }
  if (result.lag) targets.replica_lag_max_within_2s = result.lag.max_ms <= 2000;
  if (result.faults) targets.faults_none_lost_none_failed = result.faults.lost_writes === 0 && result.faults.failed_opens === 0 && result.faults.inconsistent === 0 && result.faults.kills >= (quick ? 1 : 50);
  result.targets = targets;
  result.seconds = round((performance.now() - started) / 1000);
  if (values.json) console.log(JSON.stringify(result));
  else console.log(JSON.stringify(result, null, 2));
} finally {
  endChildren();
  rmSync(work, { recursive: true, force: true });
}
