import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthError, InputError } from '../errors.js';
import type { KeyRate, Scope } from './file.js';
import type { ApiKeys } from './ring.js';

/**
 * Who may do what over HTTP (issue 25). The app mounts these; the decisions are here:
 * - authenticate: with keys, a request needs `Authorization: Bearer <key>`; a missing, malformed or unknown key is
 *   a 401 (AUTH_REQUIRED) with `WWW-Authenticate: Bearer realm="erc-demos"`. Routes the app registers before it
 *   (/healthz, the page's static files, /metrics when public) answer without a key. Without keys every request is
 *   anonymous (read).
 * - allowIndexes: a key limited to some indexes may use only those: the `index` a request names (or, when it names
 *   none, the index the service would choose) must be one of them, else a 403 (AUTH_FORBIDDEN) naming the parameter.
 * - requireScope('write'): a route that writes needs a key with that scope: anonymous is a 401 (writes are never
 *   anonymous, --allow-anonymous or not), a read key a 403.
 * No answer, log line or error holds the key; the key's name goes into the request log (logging.ts).
 */

/** Who a request is: a key's name, scope and indexes; `name` undefined for anonymous (no keys, or allowed). */
export interface Principal {
  readonly name?: string;
  readonly scope: Scope;
  /** Undefined: every index. */
  readonly indexes?: ReadonlySet<string>;
  /** The key's rate limit (rate.ts); undefined: none. */
  readonly rate?: KeyRate;
}

const ANONYMOUS: Principal = { scope: 'read' };

const principals = new WeakMap<IncomingMessage, Principal>();

/** The request's principal, once authenticate has run (undefined before, and on the routes registered before it). */
export function principalOf(req: IncomingMessage): Principal | undefined {
  return principals.get(req);
}

/** The name of the key a request came with, for the request log (undefined: anonymous or not checked). */
export function keyNameOf(req: IncomingMessage): string | undefined {
  return principals.get(req)?.name;
}

export const REALM = 'erc-demos';

function unauthorized(message: string, error?: 'invalid_request' | 'invalid_token'): AuthError {
  return new AuthError('AUTH_REQUIRED', 'authorization', message, `Bearer realm="${REALM}"${error ? `, error="${error}"` : ''}`);
}

function forbidden(param: string, message: string, scope?: Scope): AuthError {
  return new AuthError('AUTH_FORBIDDEN', param, message, `Bearer realm="${REALM}", error="insufficient_scope"${scope ? `, scope="${scope}"` : ''}`);
}

/** Whether a request carries a body the refusal leaves unread (then its connection is closed after the answer). */
export function hasBody(req: IncomingMessage): boolean {
  return (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** `Bearer <token>` (scheme in any case, RFC 6750's b64token), or null. */
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/** Checks the request's key (see the module's comment); sets its principal for the rest of the chain. */
export function authenticate(keys: ApiKeys): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const ring = keys.ring; // read on each request: a SIGHUP reload applies to the next one
    if (!ring) {
      principals.set(req, ANONYMOUS);
      next();
      return;
    }
    const refuse = (error: AuthError) => {
      if (hasBody(req)) res.set('Connection', 'close');
      next(error);
    };
    const header = req.headers.authorization;
    if (header === undefined) {
      if (keys.allowAnonymous) {
        principals.set(req, ANONYMOUS);
        next();
        return;
      }
      refuse(unauthorized('this service needs a key: send the header Authorization: Bearer <key>'));
      return;
    }
    const match = BEARER.exec(header);
    if (!match) {
      refuse(unauthorized('must be "Bearer <key>" (the key as letters, digits and - . _ ~ + /)', 'invalid_request'));
      return;
    }
    const entry = ring.find(match[1]);
    if (!entry) {
      refuse(unauthorized('the key given is not a key of this service (mistyped, revoked, or for another service)', 'invalid_token'));
      return;
    }
    principals.set(req, { name: entry.name, scope: entry.scope, ...(entry.indexes ? { indexes: entry.indexes } : {}), ...(entry.rate ? { rate: entry.rate } : {}) });
    next();
  };
}

/** A key's scope covers the one asked for: write includes read. */
function covers(has: Scope, needs: Scope): boolean {
  return has === 'write' || needs === 'read';
}

/** A route that needs `scope` (e.g. a write): anonymous is a 401, a key without the scope a 403. */
export function requireScope(scope: Scope): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const principal = principals.get(req);
    if (principal?.name === undefined) {
      if (scope === 'read' && principal) {
        next();
        return;
      }
      if (hasBody(req)) res.set('Connection', 'close');
      next(unauthorized(`this route needs a key with scope "${scope}"${scope === 'write' ? ' (writes are never anonymous)' : ''}: send Authorization: Bearer <key>`));
      return;
    }
    if (!covers(principal.scope, scope)) {
      if (hasBody(req)) res.set('Connection', 'close');
      next(forbidden('authorization', `the key "${principal.name}" has scope "${principal.scope}"; this route needs scope "${scope}"`, scope));
      return;
    }
    next();
  };
}

/** An index a request names, where (`index`, `queries.3.index`): undefined for none named (the default index). */
export interface IndexRef {
  readonly param: string;
  readonly name: string | undefined;
}

/** The names as a request gives them: a string is trimmed (as validation does); anything else is left to the route's validation (a 400). */
function named(param: string, value: unknown): IndexRef[] {
  if (value === undefined) return [{ param, name: undefined }];
  return typeof value === 'string' && value.trim() !== '' ? [{ param, name: value.trim() }] : [];
}

/** The `index` query parameter (GET /demonstrations). */
export const queryIndex = (req: Request): IndexRef[] => named('index', (req.query as Record<string, unknown>).index);

/** The `index` of each query of a batch body (POST /demonstrations). */
export const batchIndexes = (req: Request): IndexRef[] => {
  const queries = (req.body as { queries?: unknown } | undefined)?.queries;
  if (!Array.isArray(queries)) return [];
  return queries.flatMap((q: unknown, i) => (q !== null && typeof q === 'object' && !Array.isArray(q) ? named(`queries.${i}.index`, (q as { index?: unknown }).index) : []));
};

/** The body's `index` (POST /prompts). */
export const bodyIndex = (req: Request): IndexRef[] => {
  const body = req.body as unknown;
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? named('index', (body as { index?: unknown }).index) : [];
};

/** Whether the request's key may use the index `name` (anonymous and unlimited keys: every index). */
export function mayUseIndex(req: IncomingMessage, name: string): boolean {
  const indexes = principals.get(req)?.indexes;
  return indexes === undefined || indexes.has(name);
}

/**
 * A route over indexes: every index the request names (`pick`), or the service's default (its only index) where it
 * names none, must be one the key may use; else a 403 naming the parameter. Where none is named and several are
 * served, a limited key gets the 400 the service would give, listing only the indexes it may use.
 */
export function allowIndexes(served: () => ReadonlyMap<string, unknown>, pick: (req: Request) => IndexRef[]): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    const principal = principals.get(req);
    const allowed = principal?.indexes;
    if (!principal) {
      next(unauthorized('this route needs a key: send Authorization: Bearer <key>'));
      return;
    }
    if (allowed === undefined) {
      next();
      return;
    }
    const indexes = served();
    const only = indexes.size === 1 ? [...indexes.keys()][0] : undefined;
    const list = [...allowed].join(', ');
    for (const ref of pick(req)) {
      const name = ref.name ?? only;
      if (name === undefined) {
        next(new InputError(ref.param, `is required when several indexes are served (this key may use: ${list})`));
        return;
      }
      if (!allowed.has(name)) {
        const what = ref.name === undefined ? `the default index "${name}" (name one with ${ref.param})` : `index "${name.slice(0, 200)}"`;
        next(forbidden(ref.param, `the key "${principal.name}" may not use ${what}; it may use: ${list}`));
        return;
      }
    }
    next();
  };
}
