/**
 * The load generator (scripts/bench/bench-load.ts, autocannon in a process of its own) as the benchmark, the reliability
 * suite and the replicas script call it, and the utterance file it cycles through.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dialogue } from '../../src/corpus/types.js';

export interface Load { requests: number; rps: number; p50_ms: number; p99_ms: number; errors: number; timeouts: number; non2xx: number; seconds: number }

export interface LoadOptions {
  connections: number;
  seconds: number;
  /** Stop after this many requests (0: run for `seconds`). */
  amount?: number;
  k?: number;
}

/** GET /demonstrations against `url` at `connections`, one utterance of the file per request. */
export function runLoad(url: string, utterances: string, o: LoadOptions): Promise<Load> {
  const args = ['--import', 'tsx', join(import.meta.dirname, 'bench-load.ts'), '--url', url, '--utterances', utterances,
    '--connections', String(o.connections), '--amount', String(o.amount ?? 0), '--duration', String(o.seconds), '-k', String(o.k ?? 8)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator failed: ${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Load);
    });
  });
}

/** Writes the dialogues' utterances, in order, as the JSON array runLoad reads; returns the file. */
export function writeUtterances(dir: string, dialogues: readonly Dialogue[]): string {
  const file = join(dir, 'utterances.json');
  writeFileSync(file, JSON.stringify(dialogues.flatMap((d) => d.turns.map((t) => t.text))));
  return file;
}
