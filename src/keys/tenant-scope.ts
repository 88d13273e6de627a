import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { asTenant } from '../embed/tenant.js';
import { principalOf } from './auth.js';

/**
 * Whom a request's work is shared for (issue 25): its key's name, or for a request without one its client's address
 * (behind a proxy, every anonymous client is the proxy's address: one share between them). The fair scheduler gives
 * each tenant one share however many connections it opens (src/embed/tenant.ts).
 */
export function tenantOf(req: IncomingMessage): string {
  const name = principalOf(req)?.name;
  return name !== undefined ? `key:${name}` : `address:${req.socket.remoteAddress ?? 'unknown'}`;
}

/** Middleware: the rest of the request's handling (and the work it starts) runs as its tenant's. Mounted after authenticate. */
export function shareByTenant(req: Request, _res: Response, next: NextFunction): void {
  asTenant(tenantOf(req), () => next());
}
