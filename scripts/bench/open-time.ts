/**
 * How long `serve` takes to open an index, start to listening, and its RSS then, with and without settings given
 * as environment variables, the runs alternating so that other work on the shared machine falls on each alike:
 *   node --import tsx scripts/bench/open-time.ts --index <dir> [--rounds 2] [--env GLIBC_TUNABLES=glibc.malloc.hugetlb=1] [--json]
 * Each round starts `serve` once plainly (no GLIBC_TUNABLES: bin/erc-demos.mjs run by itself) and once with --env,
 * answers one GET (k=8) to check it serves, and stops it. Medians per side, every run listed.
 */
import { parseArgs } from 'node:util';
import { startServeProcess } from '../../test/support/serve-process.js';
import { rssMb } from './child-run.js';
import { median } from './median.js';

const { values } = parseArgs({
  options: { index: { type: 'string' }, rounds: { type: 'string', default: '2' }, env: { type: 'string', multiple: true, default: ['GLIBC_TUNABLES=glibc.malloc.hugetlb=1'] }, json: { type: 'boolean', default: false } },
});
if (!values.index) throw new Error('usage: open-time.ts --index <dir> [--rounds 2] [--env NAME=value ...] [--json]');
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got "${values.rounds}"`);
const given = Object.fromEntries(values.env!.map((kv) => {
  const eq = kv.indexOf('=');
  if (eq < 1) throw new Error(`--env must be NAME=value, got "${kv}"`);
  return [kv.slice(0, eq), kv.slice(eq + 1)];
}));

interface Run { seconds: number; rssMb: number }

async function openOnce(env: NodeJS.ProcessEnv): Promise<Run> {
  const started = performance.now();
  const serve = await startServeProcess(['bin/erc-demos.mjs', 'serve', '--index', values.index!, '--port', '0'], env);
  const seconds = (performance.now() - started) / 1000;
  const rss = rssMb(serve.child.pid!);
  const answer = await fetch(`${serve.url}/demonstrations?k=8&utterance=${encodeURIComponent('I cannot believe you did that!')}`);
  serve.child.kill('SIGTERM');
  await serve.exited;
  if (answer.status !== 200) throw new Error(`GET /demonstrations answered ${answer.status}`);
  return { seconds: Number(seconds.toFixed(2)), rssMb: Math.round(rss) };
}

// The plain side without the variables, whatever this process was started with (servers inherit its environment).
for (const name of Object.keys(given)) delete process.env[name];
const plain: Run[] = [];
const withEnv: Run[] = [];
for (let r = 0; r < rounds; r++) {
  // The order alternates each round: each side goes first in turn.
  for (const side of r % 2 === 0 ? ['plain', 'env'] : ['env', 'plain']) {
    process.stderr.write(`[open-time] round ${r + 1} of ${rounds}: ${side === 'plain' ? 'plain' : values.env!.join(' ')} ...\n`);
    if (side === 'plain') plain.push(await openOnce({}));
    else withEnv.push(await openOnce(given));
  }
}
const summary = (runs: Run[]) => ({ open_s: median(runs.map((r) => r.seconds)), rss_mb: median(runs.map((r) => r.rssMb)), runs });
const result = { index: values.index, env: values.env, plain: summary(plain), with_env: summary(withEnv), ratio_open: Number((median(withEnv.map((r) => r.seconds)) / median(plain.map((r) => r.seconds))).toFixed(3)) };
console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
