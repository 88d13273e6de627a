import { describe, expect, it } from 'vitest';
import { FairQueue } from '../src/embed/fair-queue.js';
import { ScheduledEmbedder, type EmbedExecutor } from '../src/embed/scheduler.js';
import { asTenant, currentTenant } from '../src/embed/tenant.js';
import { MainThreadShare } from '../src/service/yield.js';

/**
 * Issue 25, per-key fairness: the embedder's fair queue and the main-thread share count a tenant (an API key, an
 * anonymous address), not a request, so many requests of one tenant get no more than one request of another; work
 * outside a tenant (a library caller) is a tenant per call, as before.
 */
const one = (value: string, cost = 10) => [{ value, cost }];

describe('fair queue by tenant', () => {
  it('32 one-item requests of tenant A and a 10-item request of B take turns by tenant', () => {
    const queue = new FairQueue<string>();
    for (let i = 0; i < 32; i++) queue.add(one(`a${i}`), undefined, 'A');
    queue.add(Array.from({ length: 10 }, (_, i) => ({ value: `b${i}`, cost: 10 })), undefined, 'B');
    const served = Array.from({ length: 20 }, () => queue.take({ maxItems: 1, maxCost: 1000 })[0].value);
    // Per request, B's ticket would be one of 33 (1 in 33 items); per tenant it gets every other item.
    expect(served.filter((v) => v.startsWith('b'))).toHaveLength(10);
    expect(served.filter((v) => v.startsWith('a'))).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`)); // A's own in order
    expect(queue.waitingFlows).toBe(1);
  });

  it('within a tenant, its small request is not queued behind its own batch (round robin inside the flow)', () => {
    const queue = new FairQueue<string>();
    queue.add(Array.from({ length: 10 }, (_, i) => ({ value: `batch${i}`, cost: 10 })), undefined, 'A');
    queue.take({ maxItems: 3, maxCost: 1000 });
    queue.add(one('single'), undefined, 'A');
    queue.add(one('b0'), undefined, 'B');
    // FIFO inside the flow would put 'single' after batch9; round robin, after one more of its own batch.
    expect(queue.take({ maxItems: 4, maxCost: 1000 }).map((c) => c.value)).toEqual(['batch3', 'b0', 'single', 'batch4']);
  });

  it('without tenants every request is its own flow, as before', () => {
    const queue = new FairQueue<string>();
    for (let i = 0; i < 4; i++) queue.add(one(`a${i}`));
    queue.add(Array.from({ length: 4 }, (_, i) => ({ value: `b${i}`, cost: 10 })));
    expect(queue.take({ maxItems: 6, maxCost: 1000 }).map((c) => c.value)).toEqual(['a0', 'a1', 'a2', 'a3', 'b0', 'b1']);
    expect(queue.waitingFlows).toBe(1);
  });

  it('a tenant whose tickets all left starts again at the lowest waiting clock, with no credit', () => {
    const queue = new FairQueue<string>();
    const a = queue.add(one('a0', 100), undefined, 'A');
    queue.add(Array.from({ length: 5 }, (_, i) => ({ value: `b${i}`, cost: 10 })), undefined, 'B');
    queue.take({ maxItems: 1, maxCost: 1000 }); // a0 (first come), A's flow leaves
    const again = queue.add(one('a1', 10), undefined, 'A');
    expect(again.flow).not.toBe(a.flow);
    expect(again.clock).toBe(0); // B's clock, the lowest waiting
  });
});

/** An executor that answers each call on the next turn, recording which texts went in it. */
class RecordingExecutor implements EmbedExecutor {
  alive = true;
  readonly order: string[] = [];
  run(texts: string[]): Promise<Float32Array[]> {
    this.order.push(...texts);
    return new Promise((resolve) => setImmediate(() => resolve(texts.map(() => new Float32Array(2)))));
  }
}

describe('scheduled embedder by tenant', () => {
  it('the tenant of a request is read where its sentences are queued: 16 requests of A share with 1 of B', async () => {
    const executor = new RecordingExecutor();
    const embedder = new ScheduledEmbedder('test', 2, [executor], { callItems: 1, callChars: 100, maxExecutorsPerRequest: Infinity });
    const all: Promise<unknown>[] = [];
    asTenant('A', () => {
      for (let i = 0; i < 16; i++) all.push(embedder.embed([`a${i}-0`, `a${i}-1`]));
    });
    all.push(asTenant('B', () => embedder.embed(Array.from({ length: 8 }, (_, i) => `b${i}`))));
    await Promise.all(all);
    // The first call went out before B queued; after it, A and B alternate until B is done.
    const firstB = executor.order.indexOf('b0');
    const lastB = executor.order.indexOf('b7');
    expect(firstB).toBeLessThanOrEqual(2);
    expect(lastB - firstB).toBeLessThanOrEqual(15); // 8 of B interleaved with at most 8 of A
    expect(currentTenant()).toBeUndefined();
  });
});

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* work */ }
}

describe('main-thread share by tenant', () => {
  it('8 computations of tenant A and 1 of B: B gets about half the slices, not a ninth', async () => {
    const share = new MainThreadShare();
    const log: string[] = [];
    const run = async (tenant: string, name: string, units: number) => {
      const turns = share.join(undefined, tenant);
      for (let i = 0; i < units; i++) await turns.run(() => { busy(1); log.push(name); });
    };
    await Promise.all([...Array.from({ length: 8 }, (_, i) => run('A', `a${i}`, 30)), run('B', 'b', 60)]);
    // While B still had work, how much of the main thread did it get?
    const upToLastB = log.slice(0, log.lastIndexOf('b') + 1);
    const shareOfB = upToLastB.filter((n) => n === 'b').length / upToLastB.length;
    expect(shareOfB).toBeGreaterThan(0.3); // per computation it would be 1/9 (0.11)
  });

  it('computations without a tenant are shared one by one, as before', async () => {
    const share = new MainThreadShare();
    const log: string[] = [];
    const run = async (name: string, units: number) => {
      const turns = share.join();
      for (let i = 0; i < units; i++) await turns.run(() => { busy(1); log.push(name); });
    };
    await Promise.all([...Array.from({ length: 8 }, (_, i) => run(`a${i}`, 30)), run('b', 60)]);
    const upToLastB = log.slice(0, log.lastIndexOf('b') + 1);
    expect(upToLastB.filter((n) => n === 'b').length / upToLastB.length).toBeLessThan(0.3);
  });
});
