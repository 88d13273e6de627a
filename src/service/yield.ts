import { setImmediate as nextTurn } from 'node:timers/promises';
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

interface Participant {
  readonly seq: number;
  /** Virtual time: the main-thread ms it has been served, counted from when it joined the busy share. */
  clock: number;
  used: number;
  readonly signal?: AbortSignal;
}

interface Waiter {
  participant: Participant;
  resume: () => void;
}

/**
 * The main thread shared fairly between long computations (the search, per-label selection and serialisation of
 * served batches), as the fair queue (src/embed/fair-queue.ts) shares the embedder. Every computation runs its work
 * in units (`ShareTurns.run`). A computation's first SLICE_MS of work runs at once, so an interactive request (one
 * query: a search or a few) is never queued behind batches. After that, at most one computation runs per turn of
 * the event loop, for a slice of SLICE_MS (one unit may overrun it), chosen as the one served least so far (a
 * newcomer starts at the current virtual time, so it neither jumps ahead with saved credit nor waits behind
 * everyone's backlog); between two slices the loop handles every pending I/O event: new requests, embedder
 * results, and the interactive requests' own work. However many batches run, one turn of the loop carries at
 * most one slice of theirs, which is what bounds an interactive request's wait.
 */
export class MainThreadShare {
  private readonly waiting: Waiter[] = [];
  private seq = 0;
  /** Virtual time: the clock of the computation given the latest slice. */
  private now = 0;
  private current: Participant | undefined;
  /** Main-thread time the current slice has used. */
  private sliceUsed = 0;
  private pumping = false;

  /** Computations waiting for a turn (diagnostics and tests). */
  get queued(): number {
    return this.waiting.length;
  }

  /** A new computation's turns; `signal` stops it between units. */
  join(signal?: AbortSignal): ShareTurns {
    const participant: Participant = { seq: this.seq++, clock: this.now, used: 0, signal };
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
          participant.clock += spent;
          if (share.current === participant) share.sliceUsed += spent;
        }
      },
    };
  }

  private mayRun(p: Participant): boolean {
    if (p.used < SLICE_MS) return true; // its first slice: an interactive request runs at once
    return this.current === p && this.sliceUsed < SLICE_MS;
  }

  private turn(p: Participant): Promise<void> {
    if (this.current === p) this.current = undefined; // its slice is spent
    // Not ahead of the virtual time with credit saved while it waited on something else (its embedding, a slow client).
    p.clock = Math.max(p.clock, this.now);
    return new Promise<void>((resume) => {
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

  /** Gives the next slice to the waiting computation served least (first come first served on ties). */
  private grant(): void {
    let best = -1;
    for (let i = 0; i < this.waiting.length; i++) {
      const w = this.waiting[i].participant;
      // A cancelled computation goes first: it only needs its turn to stop.
      if (w.signal?.aborted) {
        best = i;
        break;
      }
      const b = best < 0 ? undefined : this.waiting[best].participant;
      if (!b || w.clock < b.clock || (w.clock === b.clock && w.seq < b.seq)) best = i;
    }
    if (best < 0) return;
    const [{ participant, resume }] = this.waiting.splice(best, 1);
    this.current = participant;
    this.sliceUsed = 0;
    this.now = Math.max(this.now, participant.clock);
    resume();
  }
}

/** The main thread of this process, shared by every request's long computations. */
export const MAIN_THREAD = new MainThreadShare();
