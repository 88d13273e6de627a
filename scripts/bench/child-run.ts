/**
 * A CLI child process run to completion by the benchmarks, with its wall time, peak RSS (sampled from /proc, Linux)
 * and every stderr line with the second it arrived (the scale report splits a build into phases from them).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface StampedLine { at_s: number; text: string }

export interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  peakRssMb: number;
  /** stderr, line by line, each with the seconds since the start at which it arrived. */
  lines: StampedLine[];
}

/** Resident memory of a live process in MB (0 once it is gone). */
export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Runs `node <args>` to completion; peak RSS is sampled every `sampleMs`. */
export function runChild(args: readonly string[], options: { env?: NodeJS.ProcessEnv; sampleMs?: number } = {}): Promise<ChildRun> {
  return new Promise((resolve) => {
    const started = performance.now();
    const since = () => (performance.now() - started) / 1000;
    const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const lines: StampedLine[] = [];
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, rssMb(child.pid!))), options.sampleMs ?? 50);
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c;
      const parts = (partial + c.toString()).split('\n');
      partial = parts.pop()!;
      for (const text of parts) lines.push({ at_s: since(), text });
    });
    child.on('exit', (code) => {
      clearInterval(timer);
      if (partial) lines.push({ at_s: since(), text: partial });
      resolve({ code, stdout, stderr, seconds: since(), peakRssMb: peak, lines });
    });
  });
}
