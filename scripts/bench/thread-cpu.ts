/**
 * CPU time of each thread of a live process (Linux /proc/<pid>/task/<tid>/stat, user + system), so a benchmark can
 * split a server's CPU per request by thread: the main thread (HTTP, validation, logging, metrics, search,
 * serialisation), the embedder's worker threads, and the rest (V8's GC and compiler helpers, libuv).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (USER_HZ): 100 on Linux. */
const TICKS_PER_S = 100;

/** CPU milliseconds used so far by each thread of `pid`, by thread id. */
export function threadCpuMs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      // The command name may hold spaces or parentheses: the fields start after the last ')'.
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

export interface CpuSplit {
  /** Milliseconds of CPU per request: the main thread, the `workers` busiest other threads, everything else. */
  main_ms: number;
  embed_ms: number;
  other_ms: number;
  total_ms: number;
}

/**
 * The CPU a process spent between two snapshots, per request: the main thread (its id is the pid), the `workers`
 * threads that spent the most besides it (the embedder's worker threads: nothing else in the process does
 * comparable work under load), and the rest.
 */
export function cpuPerRequest(pid: number, before: Map<number, number>, after: Map<number, number>, requests: number, workers: number): CpuSplit {
  const spent = [...after].map(([tid, ms]) => ({ tid, ms: ms - (before.get(tid) ?? 0) }));
  const main = spent.find((s) => s.tid === pid)?.ms ?? 0;
  const others = spent.filter((s) => s.tid !== pid).map((s) => s.ms).sort((a, b) => b - a);
  const embed = others.slice(0, workers).reduce((a, b) => a + b, 0);
  const rest = others.slice(workers).reduce((a, b) => a + b, 0);
  const per = (ms: number) => Number((ms / requests).toFixed(3));
  return { main_ms: per(main), embed_ms: per(embed), other_ms: per(rest), total_ms: per(main + embed + rest) };
}
