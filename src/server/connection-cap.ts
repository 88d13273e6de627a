import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * At most `max` open connections (ERC_DEMOS_MAX_CONNECTIONS), without letting one client that holds sockets open and
 * sends nothing take the service from everyone else. Node's own cap (`server.maxConnections`) drops every new
 * connection once full, so 1,024 silent sockets locked everyone out, /healthz included, until the header timeout
 * reaped them, and a client reconnecting kept it so. Here, when a connection over the cap arrives, the client (remote
 * address) holding the most connections gives one up: its oldest with nothing under way (no request being answered:
 * a silent socket, one trickling its headers, an idle keep-alive). A flood therefore evicts itself while another
 * client's connections stay; the newcomer is dropped only when no connection is idle. Behind a proxy every connection
 * has the proxy's address, and the oldest idle one goes: a per-client limit there is the proxy's (nginx limit_conn).
 */
export function capConnections(server: Server, max: number): { readonly evicted: number } {
  /** Open connections by remote address, each oldest first (a Set keeps insertion order). */
  const byAddress = new Map<string, Set<Socket>>();
  let open = 0;
  /** Requests being answered on each connection. */
  const answering = new WeakMap<Socket, number>();
  const stats = { evicted: 0 };
  const oldestIdle = (sockets: Set<Socket>, except: Socket) => {
    for (const candidate of sockets) if (candidate !== except && (answering.get(candidate) ?? 0) === 0) return candidate;
    return undefined;
  };
  /** Takes a connection out of the count: when it closes, or at once when it is closed to make room. */
  const forget = (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const own = byAddress.get(address);
    if (!own?.delete(socket)) return;
    open -= 1;
    if (own.size === 0) byAddress.delete(address);
  };
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    byAddress.set(address, (byAddress.get(address) ?? new Set<Socket>()).add(socket));
    open += 1;
    socket.once('close', () => forget(socket));
    if (open <= max) return;
    const largestFirst = [...byAddress.values()].sort((a, b) => b.size - a.size);
    for (const sockets of largestFirst) {
      const victim = oldestIdle(sockets, socket);
      if (!victim) continue;
      stats.evicted += 1;
      forget(victim);
      victim.destroy();
      return;
    }
    forget(socket);
    socket.destroy();
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    answering.set(socket, (answering.get(socket) ?? 0) + 1);
    res.once('close', () => answering.set(socket, (answering.get(socket) ?? 1) - 1));
  });
  return stats;
}
