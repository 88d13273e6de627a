/**
 * The main thread's CPU per request, this checkout against another one (e.g. a clone of an earlier commit with its
 * dist/ built), both servers up at once over one index and loaded in turn, the order alternating each round, so other
 * work on the shared machine falls on both (issue 26, item 2):
 *   node --import tsx scripts/bench/main-cpu.ts --other /tmp/baseline --index <index dir> [--data ../shared/data/meld]
 *     [--rounds 5] [--amount 2000] [--profile] [--peer-b] [--json]
 * Each round, per side: GET /demonstrations k=8 over the distinct MELD test utterances at concurrency 1 (500
 * requests) and 16 (`--amount`), the server's CPU per request by thread from /proc (thread-cpu.ts) over the c16 load.
 * Query caches off (every request embeds), as `npm run bench` runs. Medians per side and the ratios this / other.
 * With --profile, each side once more under `--cpu-prof`: the main thread's CPU per request by part (cpu-parts.ts).
 * With --peer-b, `npm run bench`'s peer B (LangChain's selector over HNSWLib with our embedder, scripts/bench/peers/)
 * takes its turn too, as the mark issue 26 sets for the main thread's CPU per request.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCorpus } from '../../src/corpus/load.js';
import { embedThreads } from '../../src/embed/create.js';
import { startServeProcess } from '../../test/support/serve-process.js';
import { cpuByPart } from './cpu-parts.js';
import { fastestClient, runLoad, type Load } from './load-client.js';
import { cpuPerRequest, threadCpuMs, type CpuSplit } from './thread-cpu.js';

const { values } = parseArgs({
  options: {
    other: { type: 'string' }, index: { type: 'string' }, data: { type: 'string', default: '../shared/data/meld' },
    rounds: { type: 'string', default: '5' }, amount: { type: 'string', default: '2000' }, profile: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false }, 'peer-b': { type: 'boolean', default: false },
  },
});
if (!values.other || !values.index) throw new Error('usage: main-cpu.ts --other <checkout> --index <index dir> [--rounds 5] [--amount 2000] [--profile] [--json]');
const rounds = Number(values.rounds);
const amount = Number(values.amount);
const log = (s: string) => process.stderr.write(`[main-cpu] ${s}\n`);
const CACHE_OFF = { ERC_DEMOS_EMBED_CACHE_MB: '0' };
/** wrk where installed, else autocannon (load-client.ts). */
const client = fastestClient();
const work = mkdtempSync(join(tmpdir(), 'erc-main-cpu-'));

interface Side { name: string; args: string[]; c1: Load[]; c16: Load[]; cpu: CpuSplit[]; parts?: Record<string, number> }

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const r3 = (x: number) => Number(x.toFixed(3));

try {
  const test = loadCorpus({ format: 'meld', data: values.data!, splits: ['test'] });
  const utterances = join(work, 'distinct.json');
  writeFileSync(utterances, JSON.stringify([...new Set(test.dialogues.flatMap((d) => d.turns.map((t) => t.text)))]));
  const serve = (bin: string) => [bin, 'serve', '--index', values.index!, '--port', '0'];
  const sides: Side[] = [
    { name: 'other', args: serve(join(resolve(values.other), 'bin', 'erc-demos.mjs')), c1: [], c16: [], cpu: [] },
    { name: 'this', args: serve(resolve('bin', 'erc-demos.mjs')), c1: [], c16: [], cpu: [] },
    ...(values['peer-b'] ? [{ name: 'peer B', args: ['--import', 'tsx', 'scripts/bench/peers/peer-hnswlib.ts', '--index', values.index!, '--embeddings', 'ours', '--port', '0'], c1: [], c16: [], cpu: [] }] : []),
  ];
  const workers = embedThreads('serve');
  const servers: Awaited<ReturnType<typeof startServeProcess>>[] = [];
  for (const side of sides) servers.push(await startServeProcess(side.args, CACHE_OFF));
  try {
    for (const server of servers) await runLoad(server.url, utterances, { connections: 4, amount: 300, seconds: 30, client });
    for (let r = 0; r < rounds; r++) {
      for (let n = 0; n < sides.length; n++) {
        // The order rotates each round: every side goes first, and last, in turn.
        const i = (n + r) % sides.length;
        const [side, server] = [sides[i], servers[i]];
        log(`round ${r + 1} of ${rounds}: ${side.name}`);
        side.c1.push(await runLoad(server.url, utterances, { connections: 1, amount: 500, seconds: 30, client }));
        const before = threadCpuMs(server.child.pid!);
        const c16 = await runLoad(server.url, utterances, { connections: 16, amount, seconds: 60, client });
        side.cpu.push(cpuPerRequest(server.child.pid!, before, threadCpuMs(server.child.pid!), c16.requests, workers));
        side.c16.push(c16);
      }
    }
  } finally {
    for (const server of servers) server.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.exited));
  }
  if (values.profile) {
    for (const side of sides.slice(0, 2)) {
      log(`${side.name} under the CPU profiler, concurrency 16 ...`);
      const dir = join(work, `profile-${side.name}`);
      mkdirSync(dir);
      const server = await startServeProcess(['--cpu-prof', '--cpu-prof-dir', dir, ...side.args], CACHE_OFF);
      await runLoad(server.url, utterances, { connections: 4, amount: 300, seconds: 30, client });
      const fromUs = Number(process.hrtime.bigint() / 1000n);
      const load = await runLoad(server.url, utterances, { connections: 16, amount, seconds: 60, client });
      const toUs = Number(process.hrtime.bigint() / 1000n);
      server.child.kill('SIGTERM');
      await server.exited;
      const main = readdirSync(dir).find((f) => f.split('.')[4] === '0');
      if (!main) throw new Error(`no main-thread CPU profile in ${dir}`);
      side.parts = Object.fromEntries(Object.entries(cpuByPart(join(dir, main), fromUs, toUs)).map(([part, ms]) => [part, r3(ms / load.requests)]));
    }
  }
  const summary = (side: Side) => ({
    c16_cpu_main_ms: r3(median(side.cpu.map((c) => c.main_ms))),
    c16_cpu_embed_ms: r3(median(side.cpu.map((c) => c.embed_ms))),
    c16_cpu_total_ms: r3(median(side.cpu.map((c) => c.total_ms))),
    c16_rps: median(side.c16.map((l) => l.rps)),
    c16_p50_ms: median(side.c16.map((l) => l.p50_ms)),
    c16_p99_ms: median(side.c16.map((l) => l.p99_ms)),
    c1_p50_ms: median(side.c1.map((l) => l.p50_ms)),
    c1_p99_ms: median(side.c1.map((l) => l.p99_ms)),
    errors: [...side.c1, ...side.c16].reduce((n, l) => n + l.errors, 0),
    rounds_main_ms: side.cpu.map((c) => c.main_ms),
    ...(side.parts ? { profile_main_ms: side.parts } : {}),
  });
  const [other, here, peerB] = sides.map(summary);
  const result = {
    other, this: here, ...(peerB ? { peer_b: peerB, ratio_main_ms_vs_peer_b: r3(here.c16_cpu_main_ms / peerB.c16_cpu_main_ms) } : {}),
    ratio_main_ms: r3(here.c16_cpu_main_ms / other.c16_cpu_main_ms),
    ratio_c16_rps: r3(here.c16_rps / other.c16_rps),
  };
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
} finally {
  rmSync(work, { recursive: true, force: true });
}
