import { setImmediate as nextTurn } from 'node:timers/promises';
import { currentTenant } from '../embed/tenant.js';
import { CancelledError } from '../errors.js';

/** Main-thread work between two turns of the event loop, at most (a few ms keeps other requests' latency low). */
export const SLICE_MS = 4;

/**
 * A pause to await between units of a long computation: it gives the event loop a turn once the current slice has
 * run SLICE_MS, and stops the computation (CancelledError) once the signal is aborted. Each computation counts its
 * own slice: for work that runs beside other requests' (a served batch), use MainThreadShare instead, which bounds
 * the main-thread time of all of them together.
 */
export function yieldEvery(signal?: AbortSignal): () => Promise<void> {
  let sliceStart = performance.now();
  return async () => {
    if (performance.now() - sliceStart >= SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
    if (signal?.aborted) throw new CancelledError();
  };
}

/** One computation's place in a MainThreadShare. */
export interface ShareTurns {
  /**
   * Runs one unit of synchronous work (a search, a merge, a serialisation) once this computation may: at once
   * while it holds the current slice or is still within its first slice of work, else on its turn. Throws
   * CancelledError, without running it, once the signal is aborted.
   */
  run<T>(unit: () => T): Promise<T>;
  /** Main-thread time its units have taken so far, in ms. */
  readonly used: number;
}

/** What the computations of one tenant share (tenant.ts): one virtual clock, and one first slice per turn. */
interface Flow {
  readonly tenant?: string;
  /** Virtual time: the main-thread ms its computations have been served, counted from when it joined the busy share. */
  clock: number;
  /** Main-thread ms its computations ran at once (without a turn) since the loop's last turn of the share. */
  atOnce: number;
  /** Its computations waiting for a turn. */
  waiting: number;
  /** When it last ran (performance.now()), to forget a tenant gone quiet. */
  lastSeen: number;
}

interface Participant {
  readonly seq: number;
  readonly flow: Flow;
  used: number;
  readonly signal?: AbortSignal;
}

/** What a unit of work is expected to take before any has run (ms): a search and its answer at c16 on MELD. */
const UNIT_ESTIMATE_MS = 0.5;
/** The least a unit counts for when a slice is given out (at most SLICE_MS / MIN_UNIT_MS computations a slice). */
const MIN_UNIT_MS = 0.05;
/** Weight of the latest unit in the units' running average. */
const UNIT_AVERAGE_WEIGHT = 0.05;

/** A tenant's flow is forgotten after this long without work (its clock then restarts at the virtual time). */
const FLOW_IDLE_MS = 10_000;

interface Waiter {
  participant: Participant;
  resume: () => void;
}

/**
 * The main thread shared fairly between long computations (the search, per-label selection and serialisation of
 * served batches), as the fair queue (src/embed/fair-queue.ts) shares the embedder. Every computation runs its work
 * in units (`ShareTurns.run`). A computation's first SLICE_MS of work runs at once, so an interactive request (one
 * query: a search or a few) is never queued behind batches. After that, one slice of SLICE_MS runs per turn of the
 * event loop (a unit of each computation in it may overrun it), given to the waiting computations served least so far
 * (a newcomer starts at the current virtual time, so it neither jumps ahead with saved credit nor waits behind
 * everyone's backlog): as many as the slice is expected to hold (UNIT_ESTIMATE_MS each at first, then the units'
 * average), so a queue of small computations (a search and an answer each: a tenant with 16 requests in flight) is
 * not served one a turn; between two slices the loop handles every pending I/O event: new requests, embedder
 * results, and the interactive requests' own work. However many batches run, one turn of the loop carries at
 * most one slice of theirs, which is what bounds an interactive request's wait.
 *
 * Computations of one tenant (an API key, an anonymous client's address: src/embed/tenant.ts) share one clock and
 * one first slice per turn of the loop: a tenant with 32 requests in flight gets what a tenant with one gets, not
 * 32 times as much (issue 25). A computation joined outside any tenant (a library caller) is a tenant of its own.
 */
export class MainThreadShare {
  private readonly waiting: Waiter[] = [];
  private seq = 0;
  /** Virtual time: the clock of the computation given the latest slice. */
  private now = 0;
  /** The computations given the current slice: the ms of it each was given (`allot`) and has used. */
  private readonly granted = new Map<Participant, { allot: number; used: number }>();
  /** Main-thread time the current slice has used. */
  private sliceUsed = 0;
  /** How long a unit of work takes, on average (ms): how many waiting computations one slice is given to. */
  private unitMs = UNIT_ESTIMATE_MS;
  private pumping = false;
  private readonly flows = new Map<string, Flow>();
  /** Whether a reset of the flows' first slices is queued for the next turn of the loop. */
  private resetQueued = false;

  /** Computations waiting for a turn (diagnostics and tests). */
  get queued(): number {
    return this.waiting.length;
  }

  /** A new computation's turns; `signal` stops it between units; `tenant` (default: the current one) shares its flow. */
  join(signal?: AbortSignal, tenant: string | undefined = currentTenant()): ShareTurns {
    const participant: Participant = { seq: this.seq++, flow: this.flowOf(tenant), used: 0, signal };
    const share = this;
    return {
      get used() {
        return participant.used;
      },
      async run<T>(unit: () => T): Promise<T> {
        if (signal?.aborted) throw new CancelledError();
        if (!share.mayRun(participant)) await share.turn(participant);
        if (signal?.aborted) throw new CancelledError();
        const started = performance.now();
        try {
          return unit();
        } finally {
          const spent = performance.now() - started;
          participant.used += spent;
          participant.flow.clock += spent;
          participant.flow.lastSeen = performance.now();
          share.unitMs += (spent - share.unitMs) * UNIT_AVERAGE_WEIGHT;
          const given = share.granted.get(participant);
          if (given) {
            given.used += spent;
            share.sliceUsed += spent;
          } else share.ranAtOnce(participant.flow, spent);
        }
      },
    };
  }

  private flowOf(tenant: string | undefined): Flow {
    const known = tenant === undefined ? undefined : this.flows.get(tenant);
    if (known) return known;
    const flow: Flow = { tenant, clock: this.now, atOnce: 0, waiting: 0, lastSeen: performance.now() };
    if (tenant !== undefined) this.flows.set(tenant, flow);
    return flow;
  }

  /** Counts work a flow ran at once; the count starts again on the loop's next turn (and quiet flows are forgotten). */
  private ranAtOnce(flow: Flow, ms: number): void {
    flow.atOnce += ms;
    if (this.resetQueued) return;
    this.resetQueued = true;
    setImmediate(() => {
      this.resetQueued = false;
      const now = performance.now();
      for (const [tenant, f] of this.flows) {
        f.atOnce = 0;
        if (now - f.lastSeen > FLOW_IDLE_MS) this.flows.delete(tenant);
      }
    });
  }

  private mayRun(p: Participant): boolean {
    // Its first slice, while its tenant has none of its computations queued and has not had a slice at once in this
    // turn: an interactive request runs at once; a tenant already waiting for turns takes its turn like its others.
    if (p.used < SLICE_MS && p.flow.waiting === 0 && p.flow.atOnce < SLICE_MS) return true;
    const given = this.granted.get(p);
    return given !== undefined && given.used < given.allot && this.sliceUsed < SLICE_MS;
  }

  private turn(p: Participant): Promise<void> {
    this.granted.delete(p); // its share of the slice is spent
    // Not ahead of the virtual time with credit saved while it waited on something else (its embedding, a slow client).
    p.flow.clock = Math.max(p.flow.clock, this.now);
    return new Promise<void>((resume) => {
      p.flow.waiting += 1;
      this.waiting.push({ participant: p, resume });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.pumping || this.waiting.length === 0) return;
    this.pumping = true;
    // setImmediate: after the I/O events of this turn of the loop; one queued during this callback runs next turn.
    setImmediate(() => {
      this.pumping = false;
      this.grant();
      this.schedule();
    });
  }

  /**
   * Gives the next slice to the waiting computations served least (first come first served on ties), in parts of a
   * unit's expected time (`unitMs`) until the slice is given out: each part goes to the computation whose flow, counted
   * with the parts already given in this slice, is served least, so two tenants share a slice as they would share
   * slices, and a tenant's many small computations share one slice instead of taking one turn each.
   */
  private grant(): void {
    this.granted.clear();
    this.sliceUsed = 0;
    const part = Math.max(this.unitMs, MIN_UNIT_MS);
    const ahead = new Map<Flow, number>();
    const clockOf = (w: Participant) => w.flow.clock + (ahead.get(w.flow) ?? 0);
    const servedOf = (w: Participant) => w.used + (this.granted.get(w)?.allot ?? 0);
    const candidates = this.waiting.map((w) => w.participant);
    for (let given = 0; given < SLICE_MS && candidates.length > 0; given += part) {
      let best: Participant | undefined;
      for (const w of candidates) {
        // A cancelled computation goes first: it only needs its turn to stop.
        if (w.signal?.aborted) {
          best = w;
          break;
        }
        // Lowest flow clock first; within a flow, the computation served least (round robin over a tenant's own); then first come.
        if (!best || clockOf(w) < clockOf(best) || (clockOf(w) === clockOf(best) && (w.flow === best.flow && servedOf(w) !== servedOf(best) ? servedOf(w) < servedOf(best) : w.seq < best.seq))) best = w;
      }
      const chosen = best!;
      const already = this.granted.get(chosen);
      if (already) already.allot += part;
      else this.granted.set(chosen, { allot: part, used: 0 });
      this.now = Math.max(this.now, clockOf(chosen));
      ahead.set(chosen.flow, (ahead.get(chosen.flow) ?? 0) + part);
      // A cancelled one needs no more than its turn.
      if (chosen.signal?.aborted) candidates.splice(candidates.indexOf(chosen), 1);
    }
    const resumes = new Map<Participant, () => void>();
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const { participant, resume } = this.waiting[i];
      if (!this.granted.has(participant)) continue;
      this.waiting.splice(i, 1);
      participant.flow.waiting -= 1;
      resumes.set(participant, resume);
    }
    // Resumed in the order they were given their first part.
    for (const participant of this.granted.keys()) resumes.get(participant)!();
  }
}

/** The main thread of this process, shared by every request's long computations. */
export const MAIN_THREAD = new MainThreadShare();
