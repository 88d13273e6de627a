import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CancelledError } from '../src/errors.js';
import { MainThreadShare, SLICE_MS } from '../src/service/yield.js';

/** Keeps the main thread busy for `ms` (a unit of search or serialisation). */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* work */ }
}

/** Runs `units` units of `ms` each through the share, recording when each ran. */
async function computation(share: MainThreadShare, name: string, units: number, ms: number, log: string[], signal?: AbortSignal): Promise<void> {
  const turns = share.join(signal);
  for (let i = 0; i < units; i++) {
    await turns.run(() => {
      busy(ms);
      log.push(name);
    });
  }
}

/**
 * Issue 17, item 5: the search, selection and serialisation of big batches share the main thread the way the
 * embedder is shared, so an interactive request never waits behind more than one slice of theirs.
 */
describe('main-thread share', () => {
  it('however many batches run, one turn of the event loop carries at most one slice of theirs', async () => {
    const share = new MainThreadShare();
    const log: string[] = [];
    const batches = Array.from({ length: 6 }, (_, b) => computation(share, `b${b}`, 40, 1, log));
    // Each has run its first slice at once (as an interactive request would); from then on they take turns.
    await new Promise((r) => setTimeout(r, 40));
    // A probe standing for I/O: how long between two turns of the loop while the batches run.
    let running = true;
    const gaps: number[] = [];
    const probe = (async () => {
      let last = performance.now();
      while (running) {
        await nextTurn();
        const now = performance.now();
        gaps.push(now - last);
        last = now;
      }
    })();
    await Promise.all(batches);
    running = false;
    await probe;
    gaps.sort((a, b) => a - b);
    // Six computations yielding each on their own would hold every turn for six slices (~24 ms); here one slice
    // (which its last unit may overrun by a millisecond). The median, as a busy machine preempts any process.
    expect(gaps.length).toBeGreaterThan(20);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(2 * SLICE_MS + 1);
    expect(log).toHaveLength(240);
  });

  it('shares slices fairly: batches started together advance together', async () => {
    const share = new MainThreadShare();
    const log: string[] = [];
    await Promise.all([computation(share, 'a', 60, 1, log), computation(share, 'b', 60, 1, log), computation(share, 'c', 60, 1, log)]);
    // Half-way through the log, each batch has run about a third of it.
    const half = log.slice(0, 90);
    for (const name of ['a', 'b', 'c']) {
      expect(half.filter((n) => n === name).length).toBeGreaterThan(15);
      expect(half.filter((n) => n === name).length).toBeLessThan(45);
    }
  });

  it('an interactive request runs at once, not after the batches waiting for their turn', async () => {
    const share = new MainThreadShare();
    const log: string[] = [];
    const batches = [computation(share, 'a', 50, 2, log), computation(share, 'b', 50, 2, log)];
    await new Promise((r) => setTimeout(r, 20));
    expect(share.queued).toBeGreaterThan(0);
    const single = share.join();
    const before = log.length;
    await single.run(() => log.push('single'));
    const at = log.indexOf('single');
    expect(at).toBe(before); // no batch unit ran first
    await Promise.all(batches);
    expect(at).toBeLessThan(log.length - 60); // long before the batches end
  });

  it('a cancelled computation stops at its next unit and leaves the queue', async () => {
    const share = new MainThreadShare();
    const log: string[] = [];
    const controller = new AbortController();
    const other = computation(share, 'other', 30, 1, log);
    const cancelled = computation(share, 'cancelled', 1000, 1, log, controller.signal);
    await new Promise((r) => setTimeout(r, 15));
    controller.abort();
    await expect(cancelled).rejects.toBeInstanceOf(CancelledError);
    await other;
    expect(share.queued).toBe(0);
    expect(log.filter((n) => n === 'cancelled').length).toBeLessThan(100);
  });
});
