import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * At most `max` open connections (ERC_DEMOS_MAX_CONNECTIONS), without letting one client that holds sockets open and
 * sends nothing take the service from everyone else. Node's own cap (`server.maxConnections`) drops every new
 * connection once full, so 1,024 silent sockets locked everyone out, /healthz included, until the header timeout
 * reaped them, and a client reconnecting kept it so. Here, when a connection over the cap arrives, the oldest
 * connection with nothing under way (no request being answered: a silent socket, one trickling its headers, an
 * idle keep-alive) is closed to make room; the newcomer is dropped only when every connection is being answered.
 * A flood therefore evicts itself, oldest first, while a client that sends its request at once is answered.
 */
export function capConnections(server: Server, max: number): { readonly evicted: number } {
  /** Open connections, oldest first (a Set keeps insertion order). */
  const open = new Set<Socket>();
  /** Requests being answered on each connection. */
  const answering = new WeakMap<Socket, number>();
  const stats = { evicted: 0 };
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    if (open.size <= max) return;
    for (const candidate of open) {
      if (candidate === socket || (answering.get(candidate) ?? 0) > 0) continue;
      stats.evicted += 1;
      candidate.destroy();
      return;
    }
    socket.destroy();
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    answering.set(socket, (answering.get(socket) ?? 0) + 1);
    res.once('close', () => answering.set(socket, (answering.get(socket) ?? 1) - 1));
  });
  return stats;
}
