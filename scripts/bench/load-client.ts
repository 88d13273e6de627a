/**
 * The load generator as the benchmark, the reliability suite and the replicas script call it (one process of its own,
 * GET /demonstrations cycling through an utterance file), and the utterance file it cycles through. Two clients:
 * autocannon (scripts/bench/bench-load.ts, the default: an npm dependency, always there) and wrk (scripts/bench/
 * wrk-load.lua; Debian's `wrk`, a C client), which the benchmark takes when it is installed: on 2 cores shared with
 * the server, autocannon's ~0.3 ms of CPU a request capped every side near 660 requests/s; wrk's is ~0.04 ms.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dialogue } from '../../src/corpus/types.js';

export interface Load { requests: number; rps: number; p50_ms: number; p99_ms: number; errors: number; timeouts: number; non2xx: number; seconds: number }

export type LoadClient = 'autocannon' | 'wrk';

export interface LoadOptions {
  connections: number;
  seconds: number;
  /** Stop after this many requests (0: run for `seconds`). */
  amount?: number;
  k?: number;
  /** Default autocannon. */
  client?: LoadClient;
}

/** wrk when it is on PATH, else autocannon. */
export function fastestClient(): LoadClient {
  return spawnSync('wrk', ['--version']).error ? 'autocannon' : 'wrk';
}

/** GET /demonstrations against `url` at `connections`, one utterance of the file per request. */
export function runLoad(url: string, utterances: string, o: LoadOptions): Promise<Load> {
  return o.client === 'wrk' ? runWrk(url, utterances, o) : runAutocannon(url, utterances, o);
}

function runAutocannon(url: string, utterances: string, o: LoadOptions): Promise<Load> {
  const args = ['--import', 'tsx', join(import.meta.dirname, 'bench-load.ts'), '--url', url, '--utterances', utterances,
    '--connections', String(o.connections), '--amount', String(o.amount ?? 0), '--duration', String(o.seconds), '-k', String(o.k ?? 8)];
  return lastJsonLine<Load>(process.execPath, args, {});
}

/** wrk's figures: µs latencies, its own run time (a run stopped at `amount` ends early). */
interface WrkResult { requests: number; duration_us: number; p50_us: number; p99_us: number; connect: number; read: number; write: number; status: number; timeout: number }

async function runWrk(url: string, utterances: string, o: LoadOptions): Promise<Load> {
  const k = o.k ?? 8;
  const paths = `${utterances}.k${k}.paths`;
  const texts = JSON.parse(readFileSync(utterances, 'utf8')) as string[];
  writeFileSync(paths, texts.map((t) => `/demonstrations?k=${k}&utterance=${encodeURIComponent(t)}`).join('\n') + '\n');
  const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--timeout', '10s', '-s', join(import.meta.dirname, 'wrk-load.lua'), url];
  const r = await lastJsonLine<WrkResult>('wrk', args, { WRK_PATHS: paths, WRK_AMOUNT: String(o.amount ?? 0) }, 'amount reached');
  const seconds = r.duration_us / 1e6;
  const ms = (us: number) => Number((us / 1000).toFixed(1));
  return {
    requests: r.requests, rps: Number((r.requests / seconds).toFixed(1)), p50_ms: ms(r.p50_us), p99_ms: ms(r.p99_us),
    errors: r.connect + r.read + r.write + r.status + r.timeout, timeouts: r.timeout, non2xx: r.status, seconds: Number(seconds.toFixed(3)),
  };
}

/** Runs a client to its end (interrupted once it prints `interruptAt`); its last line of stdout, parsed. */
function lastJsonLine<T>(command: string, args: string[], env: NodeJS.ProcessEnv, interruptAt?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c;
      if (interruptAt && !child.killed && stdout.includes(interruptAt)) child.kill('SIGINT');
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator ${command} failed: ${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as T);
    });
  });
}

/** Writes the dialogues' utterances, in order, as the JSON array runLoad reads; returns the file. */
export function writeUtterances(dir: string, dialogues: readonly Dialogue[]): string {
  const file = join(dir, 'utterances.json');
  writeFileSync(file, JSON.stringify(dialogues.flatMap((d) => d.turns.map((t) => t.text))));
  return file;
}
