import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Who a piece of work is done for, as the fair scheduler shares it (issue 25): a tenant is an API key's name, or an
 * anonymous client's address. The HTTP door runs each request's handler inside `asTenant(...)`; the embedder's fair
 * queue (scheduler.ts) and the main-thread share (service/yield.ts) read it when the request's work joins them, so
 * all the requests of one tenant share one place in the queue however many connections it opens. Carried by
 * AsyncLocalStorage rather than as an argument so the service between the door and the schedulers needs no change;
 * work started outside any tenant (a library caller, a build) is its own tenant per call, as before.
 */
const current = new AsyncLocalStorage<string>();

/** Runs `fn` (and everything it starts, across awaits) as work of `tenant`. */
export function asTenant<T>(tenant: string, fn: () => T): T {
  return current.run(tenant, fn);
}

/** The tenant of the work running now; undefined outside any (each call then counts alone). */
export function currentTenant(): string | undefined {
  return current.getStore();
}
