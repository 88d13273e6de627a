/**
 * `serve` on one index under several settings side by side, as the benchmark loads it, to see what a setting or a Node
 * flag does to the rate and the tail on this machine:
 *   npx tsx scripts/bench/serve-variants.ts --index <dir> [--variant name=ENV=value,...[;node-flag ...]] [--rounds 3] [--data ../shared/data/meld]
 * A variant is a name, then `=` and a comma-separated list of environment settings and/or Node flags (those starting
 * with `--`), e.g. `--variant base= --variant two-threads=ERC_DEMOS_EMBED_THREADS=2 --variant semi=--max-semi-space-size=32`.
 * Every server runs with its query cache off (each load cycles the distinct MELD test utterances). All are up at
 * once; each round loads each in turn (wrk where installed, else autocannon): 3000 requests at concurrency 16, then
 * 400 at concurrency 1. Prints each round's figures and each variant's medians as JSON lines.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCorpus } from '../../src/corpus/load.js';
import { startServeProcess } from '../../test/support/serve-process.js';
import { fastestClient, runLoad, type Load } from './load-client.js';
import { median } from './median.js';

const { values } = parseArgs({
  options: {
    index: { type: 'string' }, variant: { type: 'string', multiple: true, default: ['base='] }, rounds: { type: 'string', default: '3' },
    data: { type: 'string', default: '../shared/data/meld' },
  },
});
if (!values.index) throw new Error('--index <dir> is required');

/** `name=A=1,--flag,B=2`: the name, its environment settings and its Node flags. */
function parseVariant(spec: string): { name: string; env: Record<string, string>; flags: string[] } {
  const at = spec.indexOf('=');
  if (at < 1) throw new Error(`--variant "${spec}": expected name=SETTING=value,... or name= for the defaults`);
  const parts = spec.slice(at + 1).split(',').filter(Boolean);
  const flags = parts.filter((p) => p.startsWith('--'));
  const env = Object.fromEntries(parts.filter((p) => !p.startsWith('--')).map((p) => {
    const eq = p.indexOf('=');
    if (eq < 1) throw new Error(`--variant "${spec}": "${p}" is neither SETTING=value nor a --flag`);
    return [p.slice(0, eq), p.slice(eq + 1)];
  }));
  return { name: spec.slice(0, at), env, flags };
}

const variants = values.variant!.map(parseVariant);
const work = mkdtempSync(join(tmpdir(), 'serve-variants-'));
const utterances = join(work, 'distinct.json');
const test = loadCorpus({ format: 'meld', data: values.data!, splits: ['test'] });
writeFileSync(utterances, JSON.stringify([...new Set(test.dialogues.flatMap((d) => d.turns.map((t) => t.text)))]));
const client = fastestClient();

const servers = [];
for (const v of variants) {
  servers.push(await startServeProcess([...v.flags, 'bin/erc-demos.mjs', 'serve', '--index', values.index, '--port', '0'], { ERC_DEMOS_EMBED_CACHE_MB: '0', ...v.env }));
}
try {
  for (const server of servers) await runLoad(server.url, utterances, { connections: 4, amount: 300, seconds: 30, client });
  const results = variants.map(() => [] as { c16: Load; c1: Load }[]);
  for (let r = 0; r < Number(values.rounds); r++) {
    for (let i = 0; i < variants.length; i++) {
      // The order rotates each round, so a burst of other work falls on every variant alike.
      const n = (i + r) % variants.length;
      const c16 = await runLoad(servers[n].url, utterances, { connections: 16, amount: 3000, seconds: 30, client });
      const c1 = await runLoad(servers[n].url, utterances, { connections: 1, amount: 400, seconds: 30, client });
      results[n].push({ c16, c1 });
      console.log(JSON.stringify({ round: r + 1, variant: variants[n].name, c16_rps: c16.rps, c16_p50_ms: c16.p50_ms, c16_p99_ms: c16.p99_ms, c1_p50_ms: c1.p50_ms, c1_p99_ms: c1.p99_ms, errors: c16.errors + c1.errors }));
    }
  }
  for (const [n, v] of variants.entries()) {
    const m = (f: (x: { c16: Load; c1: Load }) => number) => median(results[n].map(f));
    console.log(JSON.stringify({ variant: v.name, client, medians: true, c16_rps: m((x) => x.c16.rps), c16_p50_ms: m((x) => x.c16.p50_ms), c16_p99_ms: m((x) => x.c16.p99_ms),
      c1_p50_ms: m((x) => x.c1.p50_ms), c1_p99_ms: m((x) => x.c1.p99_ms) }));
  }
} finally {
  for (const server of servers) server.child.kill('SIGTERM');
  await Promise.all(servers.map((s) => s.exited));
}
