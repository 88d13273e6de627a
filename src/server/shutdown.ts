import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';

/** Shared by the app, the server and `drain`: once draining, /healthz answers 503 and answers close their connection. */
export interface Lifecycle {
  draining: boolean;
  /** Answers under way, so those started before draining can still be told to close their connection. */
  readonly inFlight: Set<ServerResponse>;
  /** Open connections, and those that have carried a request (a kept-alive one between requests is idle). */
  readonly sockets: Set<Socket>;
  readonly used: WeakSet<Socket>;
}

export function newLifecycle(): Lifecycle {
  return { draining: false, inFlight: new Set(), sockets: new Set(), used: new WeakSet() };
}

/** Keeps the lifecycle's list of open connections, and of those that have carried a request. */
export function trackConnections(server: Server, lifecycle: Lifecycle): void {
  server.on('connection', (socket: Socket) => {
    lifecycle.sockets.add(socket);
    socket.once('close', () => lifecycle.sockets.delete(socket));
  });
  server.on('request', (req: { socket: Socket }) => lifecycle.used.add(req.socket));
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

/** How often connections are swept while draining (an answer that finishes leaves one idle). */
const SWEEP_MS = 50;
/**
 * While draining, a connection that has not yet sent a whole request gets this long to do so (a client that
 * connected just before the signal is served, with Connection: close); after that it is closed, so a client that
 * holds a socket open without asking anything does not hold the process.
 */
export const DRAIN_NEW_CONNECTION_GRACE_MS = 1000;

/**
 * Drains the server: marks the lifecycle as draining (/healthz answers 503 on connections still open), stops
 * accepting connections, tells answers under way to close their connection when done, closes kept-alive connections
 * between requests at once, each busy one when its answer is done, and those that never completed a request after a
 * short grace; after `timeoutMs` it closes whatever is left (a request still running). Resolves once every
 * connection is closed, saying whether the deadline had to force it.
 */
export function drain(server: Server, lifecycle: Lifecycle, timeoutMs: number): Promise<{ forced: boolean }> {
  lifecycle.draining = true;
  for (const res of lifecycle.inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
  const started = performance.now();
  const sweep = () => {
    // Kept-alive connections between requests: Node ends them cleanly (an answer just written still arrives).
    server.closeIdleConnections();
    if (performance.now() - started < Math.min(DRAIN_NEW_CONNECTION_GRACE_MS, timeoutMs)) return;
    const busy = new Set([...lifecycle.inFlight].map((res) => res.socket));
    for (const socket of lifecycle.sockets) if (!busy.has(socket) && !lifecycle.used.has(socket)) socket.destroy();
  };
  return new Promise((resolve) => {
    let forced = false;
    const sweeper = setInterval(sweep, SWEEP_MS);
    const deadline = setTimeout(() => {
      forced = true;
      server.closeAllConnections();
      for (const socket of lifecycle.sockets) socket.destroy();
    }, timeoutMs);
    server.close(() => {
      clearInterval(sweeper);
      clearTimeout(deadline);
      resolve({ forced });
    });
    sweep();
  });
}
