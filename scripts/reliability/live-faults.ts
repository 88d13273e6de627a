/**
 * The kill -9 fault run of live writes (issue 24, item 3), used by `npm run live` (scripts/bench/live.ts) and
 * test/live-faults.test.ts. Each round starts a writer, kills it with SIGKILL at a random point, then opens the index
 * as a restart would (DemoService.load: the manifest's and every file's checksum, the embedder's fingerprint, the
 * write log replayed) and checks that every acknowledged write is there, in full, and nothing else but possibly the
 * one write in flight at the kill, in full or not at all.
 *
 * Two doors, alternately:
 *  - `service`: a child process (scripts/reliability/live-fault-writer.ts) writes through DemoService and prints a
 *    line before each write and one the moment it is acknowledged (process.stdout on a pipe is synchronous on Linux:
 *    a printed ack has reached the pipe before the next statement runs);
 *  - `http`: a real `erc-demos serve` with a write key; this process posts the writes and an ack is a 2xx received.
 * Kill points, at random: a random time after the writer is ready; right after a write begins (aimed at the SQLite
 * commit: relabels and removes commit at once, adds after their embedding); or during start (the log opened and
 * replayed). Every `groupSize` rounds the log is deleted (the index as built), so the first write of a group creates it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { seeded } from '../../src/random.js';
import Database from 'better-sqlite3';
import { createQueryEmbedder } from '../../src/embed/create.js';
import { SharedEmbedders } from '../../src/embed/shared-embedders.js';
import { DemoService } from '../../src/service/service.js';
import { settingsFromEnv } from '../../src/settings.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const WRITER = join(import.meta.dirname, 'live-fault-writer.ts');
const BIN = join(ROOT, 'bin', 'erc-demos.mjs');

export interface FaultTurn { speaker: string; text: string; label: string }
export type FaultOp =
  | { kind: 'add'; dialogues: { id: string; turns: FaultTurn[] }[] }
  | { kind: 'relabel'; dialogue: string; turn: number; label: string }
  | { kind: 'remove'; dialogue: string };

/** What a writer child is given (a JSON file). */
export interface WriterJob {
  index: string;
  seed: number;
  prefix: string;
  /** Dialogues it may relabel or remove, with their turn counts. */
  targets: [string, number][];
  labels: string[];
  pool: FaultTurn[];
}


/**
 * The writes of one round, drawn as they go: adds of 1 to 3 dialogues of 1 to 10 turns (now and then one of 60 to
 * 120 turns, so a kill may land in its embedding), relabels and removes of dialogues the index holds (acknowledged
 * ones only). Texts are pool texts made unique by the round's prefix and the write's number.
 */
export class OpScript {
  private readonly random: () => number;
  private readonly targets: Map<string, number>;
  private n = 0;

  constructor(private readonly job: Pick<WriterJob, 'seed' | 'prefix' | 'targets' | 'labels' | 'pool'>) {
    this.random = seeded(job.seed);
    this.targets = new Map(job.targets);
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  next(): FaultOp {
    const n = this.n++;
    const r = this.random();
    const held = [...this.targets.keys()];
    if (r < 0.2 && held.length > 0) {
      const dialogue = this.pick(held);
      return { kind: 'relabel', dialogue, turn: this.int(0, this.targets.get(dialogue)! - 1), label: this.pick(this.job.labels) };
    }
    if (r < 0.3 && held.length > 4) return { kind: 'remove', dialogue: this.pick(held) };
    const big = this.random() < 0.06;
    const dialogues = Array.from({ length: big ? 1 : this.int(1, 3) }, (_, d) => ({
      id: `${this.job.prefix}/${n}/${d}`,
      turns: Array.from({ length: big ? this.int(60, 120) : this.int(1, 10) }, (_, t) => {
        const from = this.pick(this.job.pool);
        return { speaker: from.speaker, text: `${from.text} [${this.job.prefix} ${n}.${d}.${t}]`, label: from.label };
      }),
    }));
    return { kind: 'add', dialogues };
  }

  /** An acknowledged write: what later writes may target. */
  acked(op: FaultOp): void {
    if (op.kind === 'add') for (const d of op.dialogues) this.targets.set(d.id, d.turns.length);
    if (op.kind === 'remove') this.targets.delete(op.dialogue);
  }
}

/** One dialogue as the index should hold it: its turns' labels (and texts, for written ones), or null once removed. */
interface Held { labels: string[]; texts?: string[] }
type Model = Map<string, Held | null>;

function applyOp(model: Model, op: FaultOp): Model {
  const next = new Map(model);
  if (op.kind === 'add') for (const d of op.dialogues) next.set(d.id, { labels: d.turns.map((t) => t.label), texts: d.turns.map((t) => t.text) });
  else if (op.kind === 'remove') next.set(op.dialogue, null);
  else {
    const held = next.get(op.dialogue)!;
    const labels = [...held.labels];
    labels[op.turn] = op.label;
    next.set(op.dialogue, { ...held, labels });
  }
  return next;
}

/** Dialogues whose state in the service differs from the model (at most `limit` named). */
function differences(service: DemoService, model: Model, limit = 5): string[] {
  const { index } = service.index();
  const out: string[] = [];
  for (const [id, held] of model) {
    const rows = index.dialogueRows(id);
    let problem: string | undefined;
    if (held === null) {
      if (rows.length > 0) problem = `removed, yet ${rows.length} rows answer`;
    } else if (rows.length !== held.labels.length) {
      problem = `${rows.length} rows, expected ${held.labels.length}`;
    } else {
      const labels = rows.map((r) => index.rows[r].labels[0]);
      const texts = rows.map((r) => index.rows[r].text);
      if (labels.join('\u0000') !== held.labels.join('\u0000')) problem = `labels ${labels.join(',')}, expected ${held.labels.join(',')}`;
      else if (held.texts && texts.join('\u0000') !== held.texts.join('\u0000')) problem = 'texts differ';
    }
    if (problem !== undefined) {
      out.push(`${id}: ${problem}`);
      if (out.length >= limit) break;
    }
  }
  return out;
}

export type Door = 'service' | 'http';
export type KillPoint = 'timer' | 'write' | 'start';

export interface RoundResult {
  round: number;
  door: Door;
  point: KillPoint;
  acked: number;
  /** A write had begun and was not acknowledged when the kill came. */
  in_flight: boolean;
  /** That write was found whole after the restart (committed, its acknowledgement cut off). */
  in_flight_applied: boolean;
  opened: boolean;
  /** Acknowledged writes not found (0 unless something was lost). */
  lost: number;
  seq_ok: boolean;
  log_integrity: string;
  found_by_query: boolean | null;
  problems: string[];
  seconds: number;
}

export interface FaultReport {
  kills: number;
  by_door: Record<Door, number>;
  by_point: Record<KillPoint, number>;
  acked_writes: number;
  lost_writes: number;
  failed_opens: number;
  inconsistent: number;
  in_flight_at_kill: number;
  in_flight_applied: number;
  in_flight_absent: number;
  log_integrity_failures: number;
  query_misses: number;
  log_mb: number;
  seconds: number;
  rounds: RoundResult[];
}

export interface FaultOptions {
  /** A built index folder this run may write to (its write logs are deleted at each group's start and at the end). */
  index: string;
  kills: number;
  seed?: number;
  /** Rounds between deletions of the log (the index as built again). */
  groupSize?: number;
  /** The longest random wait after the writer is ready before the kill (ms). */
  maxKillMs?: number;
  doors?: readonly Door[];
  log?: (message: string) => void;
  /** Child processes started, for the caller to end should it be stopped. */
  children?: Set<ChildProcess>;
}

function removeLogs(dir: string): void {
  for (const f of readdirSync(dir)) if (/^writes-.*\.sqlite(-wal|-shm|-journal)?$/.test(f)) rmSync(join(dir, f), { force: true });
}

function logFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => /^writes-.*\.sqlite$/.test(f)).map((f) => join(dir, f));
}

function integrity(dir: string): string {
  const files = logFiles(dir);
  if (files.length === 0) return 'no log';
  return files.map((f) => {
    const db = new Database(f, { readonly: true });
    try {
      return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
    } finally {
      db.close();
    }
  }).join(' | ');
}

interface Observed { acked: FaultOp[]; ackedSeqs: number[]; inFlight: FaultOp | undefined }

/** The service door: a writer child, killed at `point`. */
async function serviceRound(job: WriterJob, jobFile: string, point: KillPoint, random: () => number, maxKillMs: number, children: Set<ChildProcess>): Promise<Observed> {
  writeFileSync(jobFile, JSON.stringify(job));
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, jobFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ERC_DEMOS_EMBED_THREADS: '0' } });
  children.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const observed: Observed = { acked: [], ackedSeqs: [], inFlight: undefined };
  let stderr = '';
  let partial = '';
  let killed = false;
  const kill = () => {
    if (!killed) child.kill('SIGKILL');
    killed = true;
  };
  const killAtWrite = Math.floor(random() * 12);
  const killDelayMs = random() * maxKillMs;
  const writeDelayMs = random() * 4;
  child.stderr!.on('data', (c: Buffer) => (stderr += c));
  child.stdout!.on('data', (c: Buffer) => {
    const lines = (partial + c.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const msg = JSON.parse(line) as { ready?: true; begin?: number; op?: FaultOp; ack?: number; seq?: number };
      if (msg.ready && point === 'timer') setTimeout(kill, killDelayMs);
      if (msg.begin !== undefined) {
        observed.inFlight = msg.op;
        if (point === 'write' && msg.begin === killAtWrite) {
          if (writeDelayMs < 1) kill();
          else setTimeout(kill, writeDelayMs);
        }
      }
      if (msg.ack !== undefined) {
        observed.acked.push(observed.inFlight!);
        observed.ackedSeqs.push(msg.seq!);
        observed.inFlight = undefined;
      }
    }
  });
  // A start kill: somewhere in the ~1-3 s before the writer is ready (the log opened and replayed meanwhile).
  if (point === 'start') setTimeout(kill, random() * 2500);
  // Never more than 20 s per round, whatever happens.
  const guard = setTimeout(kill, 20_000);
  await exited;
  clearTimeout(guard);
  children.delete(child);
  if (!killed) throw new Error(`the writer exited before it was killed: ${stderr.slice(-2000)}`);
  return observed;
}

function writeRequest(url: string, name: string, key: string, op: FaultOp): { url: string; init: RequestInit } {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const base = `${url}/indexes/${encodeURIComponent(name)}/dialogues`;
  if (op.kind === 'add') return { url: base, init: { method: 'POST', headers, body: JSON.stringify({ dialogues: op.dialogues }) } };
  if (op.kind === 'relabel') return { url: `${base}/${encodeURIComponent(op.dialogue)}/turns/${op.turn}`, init: { method: 'PATCH', headers, body: JSON.stringify({ label: op.label }) } };
  return { url: `${base}/${encodeURIComponent(op.dialogue)}`, init: { method: 'DELETE', headers } };
}

/** The HTTP door: a real serve with a write key; this process writes, an ack is a 2xx received. */
async function httpRound(job: WriterJob, name: string, keysFile: string, key: string, point: KillPoint, random: () => number, maxKillMs: number, children: Set<ChildProcess>): Promise<Observed> {
  const observed: Observed = { acked: [], ackedSeqs: [], inFlight: undefined };
  const env = { ...process.env, ERC_DEMOS_EMBED_THREADS: '1', ERC_DEMOS_LOG_LEVEL: 'warn' };
  const child = spawn(process.execPath, [BIN, 'serve', '--index', job.index, '--port', '0', '--keys', keysFile], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env });
  children.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let killed = false;
  const kill = () => {
    if (!killed) child.kill('SIGKILL');
    killed = true;
  };
  let stderr = '';
  const listening = new Promise<string | undefined>((resolveUrl) => {
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c;
      const m = stderr.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) resolveUrl(m[1]);
    });
    void exited.then(() => resolveUrl(undefined));
  });
  // A start kill: somewhere in serve's start (the index opened, the log replayed), ~2-4 s on the dev machine.
  if (point === 'start') setTimeout(kill, random() * 3000);
  const guard = setTimeout(kill, 20_000);
  const url = await listening;
  if (url === undefined && !killed) throw new Error(`serve exited before it listened: ${stderr.slice(-2000)}`);
  if (url !== undefined && point === 'timer') setTimeout(kill, random() * maxKillMs);
  const script = new OpScript(job);
  const killAtWrite = Math.floor(random() * 12);
  if (point === 'write') setTimeout(kill, 10_000); // should the writes fail before write killAtWrite
  for (let n = 0; url !== undefined && !killed; n++) {
    const op = script.next();
    const request = writeRequest(url, name, key, op);
    observed.inFlight = op;
    if (point === 'write' && n === killAtWrite) setTimeout(kill, random() * 6);
    let res: Response;
    let body: { seq?: number };
    try {
      res = await fetch(request.url, request.init);
      body = (await res.json()) as { seq?: number };
    } catch {
      break; // the connection died with the process
    }
    if (!res.ok) {
      kill();
      throw new Error(`${request.init.method} ${request.url} answered ${res.status}: ${JSON.stringify(body)}`);
    }
    observed.acked.push(op);
    observed.ackedSeqs.push(body.seq!);
    observed.inFlight = undefined;
    script.acked(op);
  }
  kill();
  clearTimeout(guard);
  await exited;
  children.delete(child);
  return observed;
}

/** Runs `kills` rounds; never throws on a finding (reported), only when the run itself cannot go on. */
export async function runFaults(o: FaultOptions): Promise<FaultReport> {
  const started = performance.now();
  const log = o.log ?? (() => undefined);
  const children = o.children ?? new Set<ChildProcess>();
  const random = seeded(o.seed ?? 1);
  const groupSize = o.groupSize ?? 10;
  const maxKillMs = o.maxKillMs ?? 1500;
  const doors = o.doors ?? ['service', 'http'];
  const dir = resolve(o.index);
  // The verifier embeds a query or two per round: in-thread, no pool to start.
  const settings = { ...settingsFromEnv(), embedCacheMb: 0, embedThreads: '0' };
  const shared = new SharedEmbedders((spec) => createQueryEmbedder(spec, 'batch', settings));
  const key = randomBytes(32).toString('base64url');
  const keysFile = join(dir, '..', `live-faults-keys-${process.pid}.json`);
  writeFileSync(keysFile, JSON.stringify({ keys: [{ name: 'ops', scope: 'write', sha256: createHash('sha256').update(key).digest('hex') }] }));
  const jobFile = join(dir, '..', `live-faults-job-${process.pid}.json`);
  const rounds: RoundResult[] = [];
  let model: Model = new Map();
  let built: { targets: [string, number][]; labels: string[]; pool: FaultTurn[]; name: string; model: Model } | undefined;
  let seqBase = 0;
  try {
    for (let round = 0; round < o.kills; round++) {
      const roundStarted = performance.now();
      if (round % groupSize === 0) {
        removeLogs(dir);
        if (!built) {
          const service = await DemoService.load([dir], { shared, settings });
          const { name, index } = service.index();
          const byDialogue = new Map<string, { labels: string[]; texts: string[] }>();
          for (const row of index.rows) {
            const held = byDialogue.get(row.dialogue) ?? { labels: [], texts: [] };
            held.labels[row.turn] = row.labels[0];
            held.texts[row.turn] = row.text;
            byDialogue.set(row.dialogue, held);
          }
          const targetIds = [...byDialogue.keys()].slice(0, 40);
          built = {
            name,
            labels: [...index.manifest.labels],
            pool: index.rows.slice(0, 2000).map((r) => ({ speaker: r.speaker, text: r.text, label: r.labels[0] })),
            targets: targetIds.map((id) => [id, byDialogue.get(id)!.labels.length]),
            model: new Map(targetIds.map((id) => [id, { labels: byDialogue.get(id)!.labels }])),
          };
          await service.close();
        }
        model = new Map(built.model);
        seqBase = 0;
      }
      const door = doors[round % doors.length];
      const r = random();
      const point: KillPoint = r < 0.5 ? 'timer' : r < 0.85 ? 'write' : 'start';
      // Targets: what the model holds now (built dialogues not removed, acknowledged additions not removed).
      const targets = [...model].filter(([, held]) => held !== null).map(([id, held]) => [id, held!.labels.length] as [string, number]);
      const job: WriterJob = { index: dir, seed: Math.floor(random() * 2 ** 31), prefix: `k${round}`, targets, labels: built!.labels, pool: built!.pool };
      const observed = door === 'service'
        ? await serviceRound(job, jobFile, point, random, maxKillMs, children)
        : await httpRound(job, built!.name, keysFile, key, point, random, maxKillMs, children);
      const expected = observed.acked.reduce(applyOp, model);
      const result: RoundResult = {
        round, door, point, acked: observed.acked.length, in_flight: observed.inFlight !== undefined, in_flight_applied: false,
        opened: false, lost: 0, seq_ok: false, log_integrity: '', found_by_query: null, problems: [], seconds: 0,
      };
      let service: DemoService | undefined;
      try {
        service = await DemoService.load([dir], { shared, settings });
        result.opened = true;
      } catch (error) {
        result.problems.push(`the index did not open: ${(error as Error).message}`);
      }
      if (service) {
        const { name } = service.index();
        const asAcked = differences(service, expected);
        const withInFlight = observed.inFlight ? differences(service, applyOp(expected, observed.inFlight)) : asAcked;
        const head = service.writeSeq(name);
        const ackedHead = observed.ackedSeqs.length > 0 ? observed.ackedSeqs[observed.ackedSeqs.length - 1] : seqBase;
        const matchAcked = asAcked.length === 0;
        const matchInFlight = observed.inFlight !== undefined && withInFlight.length === 0;
        if (matchInFlight && (!matchAcked || head === ackedHead + 1)) {
          result.in_flight_applied = true;
          model = applyOp(expected, observed.inFlight!);
        } else if (matchAcked) {
          model = expected;
        } else {
          // The acknowledged writes whose effect is missing.
          for (const op of observed.acked) {
            const ids = op.kind === 'add' ? op.dialogues.map((d) => d.id) : [op.dialogue];
            if (differences(service, new Map([...expected].filter(([id]) => ids.includes(id)))).length > 0) result.lost++;
          }
          result.problems.push(`state differs from the acknowledged writes: ${asAcked.join('; ')}` + (observed.inFlight ? ` (with the write in flight: ${withInFlight.join('; ')})` : ''));
          model = expected;
        }
        const expectedHead = ackedHead + (result.in_flight_applied ? 1 : 0);
        result.seq_ok = head === expectedHead;
        if (!result.seq_ok) result.problems.push(`log head ${head}, expected ${expectedHead}`);
        seqBase = head;
        // The last acknowledged addition still held is found by a query for its first text.
        const lastAdd = [...observed.acked].reverse().find((op) => op.kind === 'add' && op.dialogues.some((d) => model.get(d.id)));
        if (lastAdd && lastAdd.kind === 'add') {
          const d = lastAdd.dialogues.find((x) => model.get(x.id))!;
          const answer = await service.demonstrations({ utterance: d.turns[0].text, k: 1 });
          result.found_by_query = answer.demonstrations[0]?.dialogue === d.id;
          if (!result.found_by_query) result.problems.push(`a query for ${d.id}'s first text answered ${answer.demonstrations[0]?.dialogue}`);
        }
        await service.close();
      }
      result.log_integrity = integrity(dir);
      if (!/^(ok|no log)( \| ok)*$/.test(result.log_integrity)) result.problems.push(`log integrity: ${result.log_integrity}`);
      result.seconds = Number(((performance.now() - roundStarted) / 1000).toFixed(2));
      rounds.push(result);
      log(`kill ${round + 1}/${o.kills} (${door}, ${point}): ${result.acked} acknowledged, ${result.in_flight ? `one in flight (${result.in_flight_applied ? 'committed' : 'absent'})` : 'none in flight'}, ` +
        `${result.opened ? 'opened' : 'FAILED TO OPEN'}${result.problems.length ? `; PROBLEMS: ${result.problems.join(' / ')}` : ''}`);
    }
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await shared.close();
    rmSync(keysFile, { force: true });
    rmSync(jobFile, { force: true });
  }
  const logMb = logFiles(dir).reduce((sum, f) => sum + statSync(f).size, 0) / 2 ** 20;
  removeLogs(dir);
  const count = <T extends string>(values: readonly T[], keys: readonly T[]) => Object.fromEntries(keys.map((k) => [k, values.filter((v) => v === k).length])) as Record<T, number>;
  return {
    kills: rounds.length,
    by_door: count(rounds.map((r) => r.door), ['service', 'http']),
    by_point: count(rounds.map((r) => r.point), ['timer', 'write', 'start']),
    acked_writes: rounds.reduce((n, r) => n + r.acked, 0),
    lost_writes: rounds.reduce((n, r) => n + r.lost, 0),
    failed_opens: rounds.filter((r) => !r.opened).length,
    inconsistent: rounds.filter((r) => r.problems.length > 0).length,
    in_flight_at_kill: rounds.filter((r) => r.in_flight).length,
    in_flight_applied: rounds.filter((r) => r.in_flight_applied).length,
    in_flight_absent: rounds.filter((r) => r.in_flight && !r.in_flight_applied).length,
    log_integrity_failures: rounds.filter((r) => !/^(ok|no log)( \| ok)*$/.test(r.log_integrity)).length,
    query_misses: rounds.filter((r) => r.found_by_query === false).length,
    log_mb: Number(logMb.toFixed(2)),
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    rounds,
  };
}
