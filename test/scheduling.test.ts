import { describe, expect, it } from 'vitest';
import { CancelledError } from '../src/errors.js';
import { FairQueue } from '../src/embed/fair-queue.js';
import { startUseLitePool } from '../src/embed/pool.js';
import { ScheduledEmbedder, type EmbedExecutor } from '../src/embed/scheduler.js';
import { scheduleFor } from '../src/embed/create.js';
import { settingsFromEnv } from '../src/settings.js';

const items = (prefix: string, n: number, cost = 1) => Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}`, cost }));

describe('fair queue', () => {
  it('serves a single item that arrives behind a big backlog in the next call', () => {
    const queue = new FairQueue<string>();
    queue.add(items('batch', 1000, 2000));
    expect(queue.take({ maxItems: 32, maxCost: 2048 }).map((c) => c.value)).toEqual(['batch0']);
    queue.add(items('single', 1, 30));
    // The newcomer starts at the lowest waiting clock (the batch's), so it is in the very next call, beside one
    // more batch sentence where the character budget has room.
    expect(queue.take({ maxItems: 32, maxCost: 2048 }).map((c) => c.value)).toEqual(['batch1', 'single0']);
    queue.add(items('single', 1, 30));
    expect(queue.take({ maxItems: 32, maxCost: 2000 }).map((c) => c.value)).toEqual(['batch2']);
    expect(queue.take({ maxItems: 32, maxCost: 2000 }).map((c) => c.value)).toEqual(['single0']);
  });

  it('single queries ride along with a long batch sentence; the batch\'s next one, too long for the call, sits out', () => {
    const queue = new FairQueue<string>();
    queue.add(items('batch', 10, 2000));
    queue.take({ maxItems: 32, maxCost: 3072 });
    for (let i = 0; i < 16; i++) queue.add(items(`get${i}-`, 1, 60));
    const call = queue.take({ maxItems: 32, maxCost: 3072 }).map((c) => c.value);
    expect(call[0]).toBe('batch1'); // first at the tie: a batch is never starved by newcomers
    expect(call.slice(1)).toEqual(Array.from({ length: 16 }, (_, i) => `get${i}-0`));
  });

  it('shares calls between tickets in proportion to cost, first come first served on ties', () => {
    const queue = new FairQueue<string>();
    queue.add(items('a', 10, 10));
    queue.add(items('b', 10, 10));
    queue.add(items('c', 2, 50));
    const call = queue.take({ maxItems: 6, maxCost: 1000 }).map((c) => c.value);
    expect(call).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'a2']);
    expect(queue.size).toBe(16);
  });

  it('cuts calls by count and by cost, and always takes at least one item', () => {
    const queue = new FairQueue<string>();
    queue.add(items('x', 100, 10));
    expect(queue.take({ maxItems: 32, maxCost: 10_000 })).toHaveLength(32);
    expect(queue.take({ maxItems: 32, maxCost: 55 })).toHaveLength(5);
    queue.add([{ value: 'huge', cost: 1e6 }]);
    const calls = Array.from({ length: 30 }, () => queue.take({ maxItems: 32, maxCost: 55 }).map((c) => c.value));
    expect(calls.flat()).toContain('huge');
  });

  it('skips tickets that are not eligible, and cancels a ticket\'s waiting items', () => {
    const queue = new FairQueue<string>();
    const a = queue.add(items('a', 5));
    queue.add(items('b', 5));
    expect(queue.take({ maxItems: 3, maxCost: 100, eligible: (t) => t !== a }).map((c) => c.value)).toEqual(['b0', 'b1', 'b2']);
    expect(queue.cancel(a)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(queue.take({ maxItems: 10, maxCost: 100 }).map((c) => c.value)).toEqual(['b3', 'b4']);
    expect(queue.size).toBe(0);
  });

  it('a newcomer never jumps ahead of waiting work with credit saved while the queue was idle', () => {
    const queue = new FairQueue<string>();
    queue.add(items('old', 3, 100));
    queue.take({ maxItems: 3, maxCost: 1000 });
    const late = queue.add(items('late', 2, 100));
    const later = queue.add(items('later', 2, 100));
    expect(late.clock).toBe(later.clock);
    expect(queue.take({ maxItems: 4, maxCost: 1000 }).map((c) => c.value)).toEqual(['late0', 'later0', 'late1', 'later1']);
  });
});

/** An executor that records its calls and finishes each when told to. */
class ManualExecutor implements EmbedExecutor {
  alive = true;
  readonly calls: { texts: string[]; finish: () => void }[] = [];
  run(texts: string[]): Promise<Float32Array[]> {
    return new Promise((resolve) => this.calls.push({ texts, finish: () => resolve(texts.map(() => new Float32Array(2))) }));
  }
}

describe('scheduled embedder', () => {
  it('serving calls hold at most ERC_DEMOS_EMBED_CALL_ITEMS sentences (default 8); a build\'s hold 32', async () => {
    expect(scheduleFor('serve', 1).callItems).toBe(8);
    expect(scheduleFor('batch', 1).callItems).toBe(32);
    const executor = new ManualExecutor();
    const embedder = new ScheduledEmbedder('test', 2, [executor], scheduleFor('serve', 1, settingsFromEnv({ ERC_DEMOS_EMBED_CALL_ITEMS: '3' })));
    const all = embedder.embed(['a', 'b', 'c', 'd', 'e']);
    await Promise.resolve();
    expect(executor.calls.map((c) => c.texts)).toEqual([['a', 'b', 'c']]);
    executor.calls[0].finish();
    await new Promise((r) => setImmediate(r));
    expect(executor.calls.map((c) => c.texts)).toEqual([['a', 'b', 'c'], ['d', 'e']]);
    executor.calls[1].finish();
    await expect(all).resolves.toHaveLength(5);
    expect(() => settingsFromEnv({ ERC_DEMOS_EMBED_CALL_ITEMS: '0' })).toThrow(/ERC_DEMOS_EMBED_CALL_ITEMS=0: must be at least 1/);
  });

  it('caps the executors one request holds, leaving the others to the next request', async () => {
    const executors = [new ManualExecutor(), new ManualExecutor(), new ManualExecutor()];
    const embedder = new ScheduledEmbedder('test', 2, executors, { callItems: 1, callChars: 100, maxExecutorsPerRequest: 2 });
    const batch = embedder.embed(['b1', 'b2', 'b3', 'b4']);
    await Promise.resolve();
    expect(executors.map((e) => e.calls.length)).toEqual([0, 1, 1]);
    const single = embedder.embed(['s']);
    expect(executors[0].calls[0].texts).toEqual(['s']);
    executors[0].calls[0].finish();
    await expect(single).resolves.toHaveLength(1);
    for (let round = 0; round < 4; round++) {
      for (const e of executors) for (const c of e.calls.splice(0)) c.finish();
      await new Promise((r) => setImmediate(r));
    }
    await expect(batch).resolves.toHaveLength(4);
  });

  it('an aborted request drops its waiting sentences and rejects', async () => {
    const executor = new ManualExecutor();
    const embedder = new ScheduledEmbedder('test', 2, [executor], { callItems: 1, callChars: 100, maxExecutorsPerRequest: 1 });
    const controller = new AbortController();
    const batch = embedder.embed(['a', 'b', 'c'], { signal: controller.signal });
    expect(embedder.queued).toBe(2);
    controller.abort();
    await expect(batch).rejects.toBeInstanceOf(CancelledError);
    expect(embedder.queued).toBe(0);
    executor.calls[0].finish();
    await new Promise((r) => setImmediate(r));
    expect(executor.calls).toHaveLength(1);
  });
});

describe('USE-lite pool under a big batch (real model)', () => {
  it('answers a single query long before a 160-sentence batch of 2000 characters ends, and drops an abandoned batch', async () => {
    const pool = await startUseLitePool(1);
    const long = Array.from({ length: 160 }, (_, i) => `${i} ${'this sentence goes on and on about nothing at all '.repeat(40)}`.slice(0, 2000));
    const started = performance.now();
    let batchDone = 0;
    const batch = pool.embed(long).then(() => (batchDone = performance.now() - started));
    await new Promise((r) => setTimeout(r, 200));
    const singleStart = performance.now();
    await pool.embed(['I am so happy for you!']);
    const single = performance.now() - singleStart;
    await batch;
    expect(single).toBeLessThan(batchDone / 10);
    expect(single).toBeLessThan(500);

    const controller = new AbortController();
    const abandoned = pool.embed(long, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    await expect(abandoned).rejects.toBeInstanceOf(CancelledError);
    expect(pool.queued).toBe(0);
    await pool.close();
  });
});
