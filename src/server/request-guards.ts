import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * The Host names a service answers to: any, or these (lower case, without port; IPv6 in brackets). Loopback names
 * are always among them: a browser sends `Host: localhost` only for a page that is itself on localhost.
 */
export type HostAllowList = { readonly any: true } | { readonly any: false; readonly names: ReadonlySet<string> };

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'] as const;

/** Only the loopback names: the default of a service bound to a loopback address (and of createApp). */
export const LOOPBACK_ONLY: HostAllowList = { any: false, names: new Set(LOOPBACK_NAMES) };

/** Whether `--host` is a loopback address or name (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(bindHost: string): boolean {
  const host = bindHost.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost' || host === '::1') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * The allow-list from ERC_DEMOS_ALLOWED_HOSTS and the address the service listens on: `auto` (the default) is the
 * loopback names when bound to a loopback address (a browser page elsewhere cannot reach it by DNS rebinding),
 * and any Host otherwise (a service on the network is reached by names it cannot know: set them); `*` is any; else
 * a comma list of names, the loopback names added. A loopback address bound (e.g. 127.0.0.2) is accepted too.
 */
export function allowedHosts(setting: string, bindHost: string): HostAllowList {
  const value = setting.trim();
  if (value === '*' || (value === 'auto' && !isLoopbackHost(bindHost))) return { any: true };
  const names = new Set<string>(LOOPBACK_NAMES);
  if (isLoopbackHost(bindHost)) names.add(isIP(bindHost) === 6 ? `[${bindHost.toLowerCase()}]` : bindHost.toLowerCase());
  if (value !== 'auto') for (const name of value.split(',').map((n) => n.trim().toLowerCase()).filter(Boolean)) names.add(name.replace(/\.$/, ''));
  return { any: false, names };
}

/** The name of a Host header (`name[:port]`, `[v6][:port]`), lower case, or null when it is not one. */
export function hostName(header: string): string | null {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]\s/@]+)(?::(\d{1,5}))?$/i.exec(header.trim());
  return match ? match[1].toLowerCase().replace(/\.$/, '') : null;
}

function refuse(res: Response, status: number, param: string, message: string): void {
  // The body, if any, is never read: the connection closes after the answer.
  res.set('Connection', 'close').status(status).json({ error: { param, message } });
}

/** The body size a request declares, or undefined (chunked, or none). */
function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  return header === undefined ? undefined : Number(header);
}

/**
 * What is checked on a request's headers before any route runs or any body byte is read, each refusal JSON like
 * every error and logged like every request:
 * - Host: a request to a name not allowed (DNS rebinding: a page on evil.example resolving its name to 127.0.0.1)
 *   is a 421 naming `host`; an HTTP/1.1 request without Host is a 400 naming it.
 * - Expect: anything but 100-continue is a 417 naming `expect`.
 * - A declared Content-Length over the body limit is a 413 naming `body`, at once: with `Expect: 100-continue` the
 *   client never uploads (http-server.ts sends "100 Continue" only once the body is read).
 */
export function requestGuards(options: { allowedHosts?: HostAllowList; maxBodyBytes: number }): RequestHandler {
  const allowed = options.allowedHosts ?? LOOPBACK_ONLY;
  return (req: Request, res: Response, next: NextFunction) => {
    const host = req.headers.host;
    if (host === undefined) {
      if (req.httpVersionMajor > 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1)) {
        refuse(res, 400, 'host', 'the Host header is required in HTTP/1.1');
        return;
      }
    } else if (!allowed.any) {
      const name = hostName(host);
      if (name === null || !allowed.names.has(name)) {
        refuse(res, 421, 'host', `this service does not answer to "${host.slice(0, 200)}" (it answers to ${[...allowed.names].join(', ')}, any port; ` +
          'set ERC_DEMOS_ALLOWED_HOSTS to add names)');
        return;
      }
    }
    const expect = req.headers.expect;
    if (expect !== undefined && expect.trim().toLowerCase() !== '100-continue') {
      refuse(res, 417, 'expect', `only "100-continue" is supported, not "${expect.slice(0, 200)}"`);
      return;
    }
    const length = declaredLength(req);
    if (length !== undefined && length > options.maxBodyBytes) {
      refuse(res, 413, 'body', `declares ${length} bytes (Content-Length), over this service's limit of ${options.maxBodyBytes} (ERC_DEMOS_MAX_BODY_BYTES)`);
      return;
    }
    next();
  };
}
