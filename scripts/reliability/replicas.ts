/**
 * Throughput of replicas behind the shipped nginx config (npm run replicas -- [--data ../shared/data/meld]
 * [--seconds 10] [--json]): GET /demonstrations (k=8, MELD test utterances, concurrency 16) against one replica
 * directly, then through nginx with one and with two replicas, all on this machine. Replicas share its cores, so
 * the growth with replicas is bounded by them; the per-core figure is the direct figure over the cores in use.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loadCorpus } from '../../src/corpus/load.js';
import { runLoad, writeUtterances } from '../bench/load-client.js';
import { freePort, loopbackConfig, startNginx } from '../../test/support/replicas-lib.js';
import { startServeProcess, type ServeProcess } from '../../test/support/serve-process.js';

const { values } = parseArgs({ options: { data: { type: 'string', default: '../shared/data/meld' }, seconds: { type: 'string', default: '10' }, json: { type: 'boolean', default: false } } });
const log = (s: string) => process.stderr.write(`[replicas] ${s}\n`);
const work = mkdtempSync(join(tmpdir(), 'erc-replicas-'));
const BIN = resolve('bin/erc-demos.mjs');
const running: ServeProcess[] = [];

const load = (url: string, utterances: string) => runLoad(url, utterances, { connections: 16, seconds: Number(values.seconds) });

try {
  const index = join(work, 'meld');
  log('building the MELD train index (raw vectors) ...');
  const build = spawnSync(process.execPath, [BIN, 'build', '--corpus', 'meld', '--data', values.data!, '--split', 'train', '--projection', 'none', '--out', index], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(build.stderr);
  const utterances = writeUtterances(work, loadCorpus({ format: 'meld', data: values.data!, splits: ['test'] }).dialogues);
  const ports = [await freePort(), await freePort()];
  for (const port of ports) running.push(await startServeProcess([BIN, 'serve', '--index', index, '--port', String(port)]));
  await load(running[0].url, utterances); // warm-up
  log('one replica, direct ...');
  const direct = await load(running[0].url, utterances);
  const results: Record<string, number | string> = { machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}` };
  for (const n of [1, 2]) {
    const front = await freePort();
    const nginx = await startNginx(loopbackConfig(ports.slice(0, n), front, join(work, `nginx-${n}`)), join(work, `nginx-${n}`), front);
    log(`nginx + ${n} replica(s) ...`);
    const r = await load(`http://127.0.0.1:${front}`, utterances);
    nginx.kill('SIGQUIT');
    Object.assign(results, { [`nginx_${n}_rps`]: r.rps, [`nginx_${n}_p50_ms`]: r.p50_ms, [`nginx_${n}_p99_ms`]: r.p99_ms, [`nginx_${n}_errors`]: r.errors });
  }
  Object.assign(results, {
    direct_1_rps: direct.rps, direct_1_p50_ms: direct.p50_ms, direct_1_p99_ms: direct.p99_ms,
    cores: availableParallelism(), direct_rps_per_core: Number((direct.rps / availableParallelism()).toFixed(1)),
    growth_2_over_1: Number((Number(results.nginx_2_rps) / Number(results.nginx_1_rps)).toFixed(2)),
  });
  console.log(values.json ? JSON.stringify(results) : Object.entries(results).map(([k, v]) => `${k}: ${v}`).join('\n'));
} finally {
  for (const r of running) r.child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
