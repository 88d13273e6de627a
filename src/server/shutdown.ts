import type { Server } from 'node:http';

/** Shared with the app: once draining, /healthz answers 503 and every answer closes its connection. */
export interface Lifecycle {
  draining: boolean;
}

/** How often idle keep-alive connections are closed while draining (an answer that finishes leaves one idle). */
const IDLE_SWEEP_MS = 50;

/**
 * Drains the server: marks the lifecycle as draining (a load balancer's health check now sees 503), stops accepting
 * connections, closes idle keep-alive connections at once and each busy one as soon as its answer is done, and
 * after `timeoutMs` closes whatever is left (a client holding a socket open, a request still running). Resolves once
 * every connection is closed, saying whether the deadline had to force it. Node's own closeIdleConnections and
 * closeAllConnections do the socket bookkeeping (http-terminator and the like predate them).
 */
export function drain(server: Server, lifecycle: Lifecycle, timeoutMs: number): Promise<{ forced: boolean }> {
  lifecycle.draining = true;
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
