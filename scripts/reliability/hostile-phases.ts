/**
 * The reliability suite's phases for the defects of issue 23's hostile round (scripts/reliability/reliability.ts runs
 * them; docs/RELIABILITY.md reports them):
 *   outguard    prompts --out at a device (a mknod copy of /dev/null, or a named pipe without root), at a link to
 *               /dev/null, at a link to a file, and at its own corpus: refused and untouched, the link followed
 *   reloads     21 SIGHUP reloads of an idle serve: threads and RSS after the first and after the last
 *   flood       1,500 silent connections from one client (127.0.0.2), reconnecting as they are closed, while another
 *               client (127.0.0.1) asks for demonstrations: the share of its requests answered
 *   sighupstart SIGHUP while serve starts: it must keep running and reopen once serving
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { basename, join } from 'node:path';
import type { ServeProcess } from '../../test/support/serve-process.js';

export interface HostileContext {
  /** bin/erc-demos.mjs */
  bin: string;
  /** A scratch folder of the run. */
  work: string;
  indexDir: string;
  /** The corpus arguments the index was built from (`--corpus ... --data ...`), for a prompts export over it. */
  corpusArgs: readonly string[];
  /** The split exports run over, and the corpus file holding it (for the export-onto-its-input check). */
  split: string;
  splitFile: string;
  startService(indexDir: string): Promise<ServeProcess>;
  runNode(args: string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  log(line: string): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Threads and resident memory of a process, from /proc. */
function usage(pid: number): { threads: number; rssMb: number } {
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { threads: readdirSync(`/proc/${pid}/task`).length, rssMb: Math.round(Number(rss?.[1] ?? 0) / 1024) };
}

async function waitForCount(stderr: () => string, pattern: RegExp, count: number, ms = 120_000): Promise<boolean> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if ((stderr().match(new RegExp(pattern.source, 'g'))?.length ?? 0) >= count) return true;
    await sleep(20);
  }
  return false;
}

/** Items 1 and 2: what stands at --out is refused and left as it was, unless it is (or links to) a regular file. */
export async function outGuardPhase(c: HostileContext): Promise<Record<string, unknown>> {
  c.log('outguard: prompts --out at a device, a link to /dev/null, a link to a file, and the corpus itself ...');
  const prompts = (out: string) => c.runNode([c.bin, 'prompts', '--index', c.indexDir, ...c.corpusArgs, '--split', c.split, '-k', '1', '--out', out]);
  const device = join(c.work, 'null-copy');
  const asRoot = spawnSync('mknod', [device, 'c', '1', '3']).status === 0;
  if (!asRoot) spawnSync('mkfifo', [device]);
  const deviceRun = await prompts(device);
  const deviceKept = asRoot ? lstatSync(device).isCharacterDevice() : lstatSync(device).isFIFO();
  const toNull = join(c.work, 'to-null');
  symlinkSync('/dev/null', toNull);
  const nullRun = await prompts(toNull);
  const real = join(c.work, 'real.jsonl');
  writeFileSync(real, 'old\n');
  const link = join(c.work, 'link.jsonl');
  symlinkSync(real, link);
  const linkRun = await prompts(link);
  // The split's own file, copied under its own name (a loader may read the split from the name), then exported onto itself.
  const ownDir = join(c.work, 'own-input');
  mkdirSync(ownDir, { recursive: true });
  const corpusCopy = join(ownDir, basename(c.splitFile));
  copyFileSync(c.splitFile, corpusCopy);
  const before = readFileSync(corpusCopy);
  const ownArgs = [...c.corpusArgs];
  ownArgs[ownArgs.indexOf('--data') + 1] = corpusCopy;
  const ownRun = await c.runNode([c.bin, 'prompts', '--index', c.indexDir, ...ownArgs, '--split', c.split, '-k', '1', '--out', corpusCopy]);
  const ownRefused = /refusing to write --out .*: it is an input/.test(ownRun.stderr);
  return {
    out_device_kind: asRoot ? 'character device (mknod copy of /dev/null)' : 'named pipe (no root for mknod)',
    out_device_refused: deviceRun.code === 1 && /refusing to write --out/.test(deviceRun.stderr) && deviceKept,
    out_link_to_dev_null_refused: nullRun.code === 1 && readlinkSync(toNull) === '/dev/null',
    out_link_to_file_written_and_kept: linkRun.code === 0 && lstatSync(link).isSymbolicLink() && readFileSync(real, 'utf8').startsWith('{'),
    out_own_input_refused: ownRun.code !== 0 && ownRefused && readFileSync(corpusCopy).equals(before),
  };
}

/** Item 3: 21 SIGHUP reloads of an idle serve; threads and RSS after the first and after the last. */
export async function reloadsPhase(c: HostileContext, reloads = 21): Promise<Record<string, number>> {
  c.log(`reloads: ${reloads} SIGHUP reloads of an idle serve ...`);
  const serve = await c.startService(c.indexDir);
  try {
    const pid = serve.child.pid!;
    const start = usage(pid);
    let first = start;
    const started = performance.now();
    for (let n = 1; n <= reloads; n++) {
      serve.child.kill('SIGHUP');
      if (!(await waitForCount(serve.stderr, /SIGHUP: reopened/, n))) throw new Error(`reload ${n} did not finish: ${serve.stderr().slice(-1000)}`);
      if (n === 1) first = usage(pid);
    }
    const reloadMs = (performance.now() - started) / reloads;
    await sleep(1000);
    const last = usage(pid);
    return {
      reload_count: reloads, reload_threads_at_start: start.threads, reload_threads_after_first: first.threads, reload_threads_after_last: last.threads,
      reload_rss_at_start_mb: start.rssMb, reload_rss_after_first_mb: first.rssMb, reload_rss_after_last_mb: last.rssMb,
      reload_rss_growth_mb: last.rssMb - first.rssMb, reload_mean_ms: Math.round(reloadMs),
    };
  } finally {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
}

/** A connection from another loopback address than the other client's (127.0.0.1): another client. */
function openSocket(port: number): Promise<Socket | undefined> {
  return new Promise((resolveOpen) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => resolveOpen(socket));
    socket.once('error', () => resolveOpen(undefined));
  });
}

/** Item 6: 1,500 silent connections from one client, reconnecting as they are closed, beside a client asking for demonstrations. */
export async function floodPhase(c: HostileContext, texts: readonly string[], connections = 1500, requests = 200): Promise<Record<string, number>> {
  c.log(`flood: ${connections} silent connections from one client while another asks ${requests} GETs ...`);
  const serve = await c.startService(c.indexDir);
  const port = Number(new URL(serve.url).port);
  let stop = false;
  let opened = 0;
  const held = new Set<Socket>();
  const flooders = Array.from({ length: connections }, async () => {
    while (!stop) {
      const socket = await openSocket(port);
      if (!socket) {
        await sleep(5);
        continue;
      }
      opened += 1;
      held.add(socket);
      socket.on('error', () => {});
      await new Promise((r) => socket.once('close', r));
      held.delete(socket);
    }
  });
  try {
    await sleep(1000);
    let answered = 0;
    const ms: number[] = [];
    for (let i = 0; i < requests; i++) {
      const started = performance.now();
      const status = await new Promise<number>((resolveStatus) => {
        const path = `/demonstrations?k=5&utterance=${encodeURIComponent(texts[i % texts.length])}`;
        const req = httpRequest({ host: '127.0.0.1', port, path, headers: { connection: 'close' }, timeout: 5000 }, (res) => {
          res.resume();
          res.on('end', () => resolveStatus(res.statusCode ?? 0));
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolveStatus(0));
        req.end();
      });
      if (status === 200) {
        answered += 1;
        ms.push(performance.now() - started);
      }
    }
    ms.sort((a, b) => a - b);
    return {
      flood_silent_connections: connections, flood_connections_opened: opened, flood_other_requests: requests,
      flood_other_answered_share: Number((answered / requests).toFixed(3)), flood_other_p50_ms: Number((ms[Math.floor(ms.length / 2)] ?? 0).toFixed(1)),
    };
  } finally {
    stop = true;
    // The flood's own sockets are closed here, not left to the server's end (a socket whose close never came held
    // the suite once).
    for (const socket of held) socket.destroy();
    serve.child.kill('SIGTERM');
    await serve.exited;
    await Promise.race([Promise.all(flooders), sleep(10_000)]);
  }
}

/** Item 7: SIGHUP as soon as serve says it is starting (its handler in place), before it listens. */
export async function sighupAtStartPhase(c: HostileContext): Promise<Record<string, unknown>> {
  c.log('sighupstart: SIGHUP while serve opens its index ...');
  const child = spawn(process.execPath, [c.bin, 'serve', '--index', c.indexDir, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let signalledBeforeListening = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk;
    if (!signalledBeforeListening && /starting: opening/.test(stderr) && !/listening on/.test(stderr)) {
      signalledBeforeListening = true;
      child.kill('SIGHUP');
    }
  });
  const listened = await Promise.race([waitForCount(() => stderr, /listening on http/, 1, 120_000), exited.then(() => false)]);
  const reopened = listened && (await waitForCount(() => stderr, /SIGHUP: reopened/, 1, 60_000));
  const alive = child.exitCode === null && child.signalCode === null;
  child.kill('SIGTERM');
  const end = await exited;
  return {
    sighup_at_start_signalled_before_listening: signalledBeforeListening,
    sighup_at_start_survived: signalledBeforeListening && listened && reopened && alive && end.code === 0,
    sighup_at_start_exit: end.signal ?? end.code ?? -1,
  };
}
