import type { Server, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

/** Shared by the app and `drain`: once draining, /healthz answers 503 and every answer closes its connection. */
export interface Lifecycle {
  draining: boolean;
  /** Answers under way, so those started before draining can still be told to close their connection. */
  readonly inFlight: Set<ServerResponse>;
}

export function newLifecycle(): Lifecycle {
  return { draining: false, inFlight: new Set() };
}

/** Middleware: tracks each answer while it is under way; while draining, every answer closes its connection. */
export function trackAnswers(lifecycle: Lifecycle): (req: Request, res: Response, next: NextFunction) => void {
  return (_req, res, next) => {
    if (lifecycle.draining) res.setHeader('Connection', 'close');
    lifecycle.inFlight.add(res);
    res.once('close', () => lifecycle.inFlight.delete(res));
    next();
  };
}

/** How often idle keep-alive connections are closed while draining (an answer that finishes leaves one idle). */
const IDLE_SWEEP_MS = 50;

/**
 * Drains the server: marks the lifecycle as draining (/healthz answers 503 on connections still open), stops
 * accepting connections, tells answers under way to close their connection when done, closes idle keep-alive
 * connections at once and each busy one when its answer is done, and after `timeoutMs` closes whatever is left (a
 * client holding a socket open, a request still running). Resolves once every connection is closed, saying whether
 * the deadline had to force it. Node's own closeIdleConnections and closeAllConnections do the socket bookkeeping
 * (http-terminator and the like predate them).
 */
export function drain(server: Server, lifecycle: Lifecycle, timeoutMs: number): Promise<{ forced: boolean }> {
  lifecycle.draining = true;
  for (const res of lifecycle.inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
  return new Promise((resolve) => {
    let forced = false;
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    const deadline = setTimeout(() => {
      forced = true;
      server.closeAllConnections();
    }, timeoutMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve({ forced });
    });
    server.closeIdleConnections();
  });
}
