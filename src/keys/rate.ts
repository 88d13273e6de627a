import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { hasBody, principalOf } from './auth.js';
import type { KeyRate } from './file.js';

/**
 * Per-key rate limits (issue 25): a key's `rate` in the keys file, {per_second, burst}, is a token bucket of `burst`
 * requests refilled at `per_second`, one bucket per key name (so a rotated key of the same name keeps its bucket,
 * and a SIGHUP that changes the rate applies to the next request). A request with no token left gets a JSON 429
 * naming the limit, with `Retry-After` in whole seconds (at least 1) until a token is there; other keys are not
 * touched. Anonymous requests and keys without `rate` are not limited here. Mounted after authenticate and before
 * the body is read, so a refused request costs no parsing.
 */

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, performance.now()). */
  at: number;
}

/** The answer to one request: let through, or refused for this many seconds. */
export type RateDecision = { ok: true } | { ok: false; retryAfterS: number };

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Spends one of `name`'s tokens under `rate`, or says how long until one is there. */
  take(name: string, rate: KeyRate): RateDecision {
    const now = this.clock();
    let bucket = this.buckets.get(name);
    if (!bucket) {
      bucket = { tokens: rate.burst, at: now };
      this.buckets.set(name, bucket);
    }
    // Refill for the time since; never above the burst (also when a reload lowered it).
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * rate.perSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - bucket.tokens) / rate.perSecond)) };
  }
}

const limiters = new WeakMap<object, RateLimiter>();

/**
 * The buckets of one set of keys (an ApiKeys): `serve` makes a new app on each SIGHUP reopening with the same keys,
 * and the buckets must outlive it, or a reload would refill every key.
 */
export function limiterFor(keys: object): RateLimiter {
  let limiter = limiters.get(keys);
  if (!limiter) {
    limiter = new RateLimiter();
    limiters.set(keys, limiter);
  }
  return limiter;
}

/** The middleware: a key over its rate gets the 429; everything else goes on. */
export function rateLimit(limiter: RateLimiter = new RateLimiter()): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const principal = principalOf(req);
    if (principal?.name === undefined || principal.rate === undefined) {
      next();
      return;
    }
    const decision = limiter.take(principal.name, principal.rate);
    if (decision.ok) {
      next();
      return;
    }
    if (hasBody(req)) res.set('Connection', 'close'); // the body stays unread
    const { perSecond, burst } = principal.rate;
    res.status(429).set('Retry-After', String(decision.retryAfterS)).json({
      error: {
        param: 'authorization',
        message: `the key "${principal.name}" is over its rate limit of ${perSecond} requests per second (burst ${burst}, the keys file's "rate"): retry after ${decision.retryAfterS} s`,
      },
    });
  };
}
