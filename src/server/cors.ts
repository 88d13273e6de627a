import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import cors from 'cors';
import { SettingError } from '../errors.js';

/**
 * CORS (issue 25), off unless ERC_DEMOS_CORS_ORIGINS names origins: a page of one of those origins may call the API
 * from a browser, sending its key as `Authorization: Bearer` (never a cookie: credentials stay off). Its preflight
 * (OPTIONS with Access-Control-Request-Method) is answered 204 here, before the app and its key check (a preflight
 * carries no key); a preflight from any other origin goes on to the app as before, unanswered for CORS, so the
 * browser refuses the call. The `cors` package (expressjs/cors) does the header work: it is the well-kept
 * implementation of the spec's exact-origin matching and Vary handling, which a hand-written one would repeat.
 */

/** The origins of the setting: exact, as a browser sends `Origin` (scheme://host[:port], no trailing slash). */
export function parseCorsOrigins(value: string): string[] {
  const origins = value.split(',').map((o) => o.trim()).filter((o) => o !== '');
  for (const origin of origins) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new SettingError(`ERC_DEMOS_CORS_ORIGINS: "${origin}" is not an origin (scheme://host[:port])`);
    }
    if (url.origin !== origin) throw new SettingError(`ERC_DEMOS_CORS_ORIGINS: "${origin}" is not an origin as a browser sends it; write "${url.origin}"`);
  }
  return origins;
}

/** How long a browser may keep a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

/** The listener with CORS for `origins` in front of it; the listener itself when there are none (CORS off). */
export function withCors(app: RequestListener, origins: readonly string[]): RequestListener {
  if (origins.length === 0) return app;
  const allowed = new Set(origins);
  const handle = cors({
    origin: [...origins],
    methods: ['GET', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
    // What the page's code may read of an answer beside the body: why to wait, the challenge, the request id.
    exposedHeaders: ['Retry-After', 'WWW-Authenticate', 'X-Request-Id'],
    credentials: false,
    maxAge: PREFLIGHT_MAX_AGE_S,
  });
  return (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (preflight && (origin === undefined || !allowed.has(origin))) {
      app(req, res);
      return;
    }
    handle(req, res, () => app(req, res));
  };
}
