import { readFileSync } from 'node:fs';
import express, { type NextFunction, type Request, type Response } from 'express';
import { AuthError, errorCode, InputError, TemplateError, type ErrorCode } from '../errors.js';
import { FORMATS } from '../prompt/formats.js';
import { checkBatchLength } from '../service/limits.js';
import { DemoBatchSchema, parsePromptRequest } from '../service/prompt-request.js';
import { DemoQuerySchema } from '../service/query.js';
import type { DemoService } from '../service/service.js';
import { parseInput } from '../service/validate.js';
import { PACKAGE_VERSION } from '../paths.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import type { Logger } from 'pino';
import { allowIndexes, authenticate, batchIndexes, bodyIndex, mayUseIndex, queryIndex } from '../keys/auth.js';
import { limiterFor, rateLimit, type RateLimiter } from '../keys/rate.js';
import { ApiKeys } from '../keys/ring.js';
import { shareByTenant } from '../keys/tenant-scope.js';
import { createLogger, requestLog, requestLogging } from './logging.js';
import { createMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { requestGuards, type HostAllowList } from './request-guards.js';
import { requestSignal } from './request-signal.js';
import { writeRoutes } from './write-routes.js';
import { PAGE_CSP, securityHeaders } from './security-headers.js';
import { newLifecycle, trackAnswers, type Lifecycle } from './shutdown.js';
import { streamJsonObject } from './stream-json.js';

/**
 * A query string value given twice arrives as an array; name it rather than guess which one was meant. The copy has
 * no prototype, so `__proto__` and `constructor` stay plain keys and are refused as unknown parameters.
 */
function singleValued(query: Request['query']): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(query)) {
    if (typeof value !== 'string') throw new InputError(key, 'must be given once, as a plain value');
    out[key] = value;
  }
  return out;
}

export interface AppOptions {
  /** Set to draining on shutdown: /healthz answers 503 and every answer closes its connection. */
  lifecycle?: Lifecycle;
  maxBodyBytes?: number;
  /** JSON request logs (default: none). */
  logger?: Logger;
  /** The Host names answered (request-guards.ts; default: the loopback names only). */
  allowedHosts?: HostAllowList;
  /** Who may do what (src/keys/ring.ts, read on each request; default: no keys, every request anonymous). */
  keys?: ApiKeys;
  /** The per-key token buckets (src/keys/rate.ts); default: those of `keys`, kept across the apps a reload makes. */
  rateLimiter?: RateLimiter;
}

/**
 * Each error code's HTTP status (errors.ts says what each code means): the caller's mistakes 400; null, no answer at
 * all (the client went away); the rest are faults of the service itself (its indexes, models, settings), which a
 * request cannot fix: 500 without their message.
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number | null>> = {
  INPUT_INVALID: 400,
  LIMIT_EXCEEDED: 400,
  PROMPT_TOO_LONG: 400,
  TEMPLATE_INVALID: 400,
  CANCELLED: null,
  OUT_NOT_AN_INDEX: 500,
  OUT_REFUSED: 500,
  INDEX_LOAD_FAILED: 500,
  INDEX_NAME_TAKEN: 500,
  NO_INDEX: 500,
  CORPUS_FORMAT: 500,
  CORPUS_EMPTY: 500,
  DATA_NOT_FOUND: 500,
  DATA_PATH_INVALID: 500,
  SPLIT_MISSING: 500,
  EMBEDDER_UNKNOWN: 500,
  EMBEDDER_OPTION_INVALID: 500,
  MODEL_FOLDER_INVALID: 500,
  MODEL_UNAVAILABLE: 500,
  MODEL_UNSUPPORTED: 500,
  MODEL_CHANGED: 500,
  SETTING_INVALID: 500,
  NOT_SUPPORTED: 500,
  SERVICE_CLOSED: 500,
  AUTH_REQUIRED: 401,
  AUTH_FORBIDDEN: 403,
  KEYS_FILE_INVALID: 500,
  NOT_FOUND: 404,
  DIALOGUE_EXISTS: 409,
  WRITE_BUSY: 503,
  WRITE_FAILED: 500,
};

/** A caller's mistake as the answer's `error`: the parameter to fix (a template's is the format) and why. */
function callerError(error: Error): { param: string | null; message: string } {
  if (error instanceof InputError || error instanceof AuthError) return { param: error.param, message: error.message };
  if (error instanceof TemplateError) return { param: 'format', message: `format: ${error.message}` };
  return { param: null, message: error.message };
}

/**
 * Every failure leaves as JSON, its status from its code (HTTP_STATUS): caller mistakes as 400 naming the parameter
 * (401 and 403 with their WWW-Authenticate challenge), the rest as 500 without a stack. The app's last middleware;
 * exported for routes mounted elsewhere (a write route under test).
 */
export function answerError(error: unknown, req: Request, res: Response, _next: NextFunction): void {
  const code = errorCode(error);
  if ((code && HTTP_STATUS[code] === null) || res.headersSent) {
    // The client went away (nobody to answer), or an answer was already under way: end the connection.
    res.destroy();
    return;
  }
  if (code && HTTP_STATUS[code]! < 500) {
    if (error instanceof AuthError) res.set('WWW-Authenticate', error.challenge);
    res.status(HTTP_STATUS[code]!).json({ error: callerError(error as Error) });
    return;
  }
  if (code === 'WRITE_FAILED') {
    // The server's storage, not the caller: logged in full, answered with what SQLite said (no path).
    requestLog(req).error({ err: error }, 'write failed');
    res.status(500).json({ error: { param: null, message: (error as Error).message } });
    return;
  }
  if (code === 'WRITE_BUSY') {
    // Nothing was written: the client may retry after the other writer's turn.
    res.set('Retry-After', '1').status(503).json({ error: { param: null, message: (error as Error).message } });
    return;
  }
  const status = (error as { status?: number; type?: string }).status;
  if (status && status >= 400 && status < 500) {
    // body-parser errors: malformed JSON, too large, wrong charset.
    res.status(status).json({ error: { param: 'body', message: (error as Error).message } });
    return;
  }
  requestLog(req).error({ err: error }, 'unexpected error');
  res.status(500).json({ error: { param: null, message: 'internal error' } });
}

/**
 * An answer already encoded, sent as is: no ETag (every answer differs, if only by took_ms, so none would ever
 * validate, and express would hash the whole body for it) and no second copy of the body (res.send re-encodes text).
 */
function sendJson(res: Response, body: Buffer): void {
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

/** The HTTP door: routing, validation and error mapping only; the work is DemoService's. */
export function createApp(service: DemoService, options: AppOptions = {}): express.Express {
  const lifecycle = options.lifecycle ?? newLifecycle();
  const logger = options.logger ?? createLogger('silent');
  const metrics = createMetrics(service);
  const keys = options.keys ?? new ApiKeys();
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(securityHeaders);
  app.use(requestLogging(logger));
  app.use(metrics.middleware);
  app.use(trackAnswers(lifecycle));
  app.use(requestGuards({ allowedHosts: options.allowedHosts, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_SETTINGS.maxBodyBytes }));

  // Routes registered before `authenticate` answer without a key: health, the page's own files (no data; it asks
  // for the key the API wants), /metrics when ERC_DEMOS_METRICS_PUBLIC=1. Every route after it needs one when the
  // service has keys (src/keys/auth.ts), and no body is read before the key is checked.
  app.get('/healthz', (_req, res) => {
    if (lifecycle.draining) res.status(503).json({ status: 'draining' });
    // Without a key, nothing of what is served: with keys, the index names are for those who may see them (/indexes).
    else res.json(keys.ring ? { status: 'ok' } : { status: 'ok', indexes: [...service.indexes.keys()] });
  });

  // The page and its two files (no inline script or style: PAGE_CSP allows only these), revalidated on each load.
  const pageFile = (name: string) => readFileSync(new URL(`./page/${name}`, import.meta.url), 'utf8');
  for (const [path, file, type] of [['/', 'index.html', 'html'], ['/page.js', 'page.js', 'text/javascript'], ['/page.css', 'page.css', 'css']] as const) {
    const body = pageFile(file);
    app.get(path, (_req, res) => {
      res.set({ 'Content-Security-Policy': PAGE_CSP, 'Cache-Control': 'no-cache' }).type(type).send(body);
    });
  }

  const serveMetrics = async (_req: Request, res: Response) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
  if (keys.metricsPublic) app.get('/metrics', serveMetrics);

  app.use(authenticate(keys));
  // A key over its rate is answered 429 before its body is read (src/keys/rate.ts).
  app.use(rateLimit(options.rateLimiter ?? limiterFor(keys)));
  app.use(express.json({ limit: options.maxBodyBytes ?? DEFAULT_SETTINGS.maxBodyBytes }));
  // After the body is read (its events would lose the tenant): the work of each key is shared as one (src/keys/tenant-scope.ts).
  app.use(shareByTenant);

  if (!keys.metricsPublic) app.get('/metrics', serveMetrics);

  app.get('/formats', (_req, res) => {
    res.json({ formats: [...FORMATS.values()] });
  });

  const openApi = openApiDocument(service.limits, PACKAGE_VERSION);
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });

  app.get('/indexes', (req, res) => {
    // Names and manifests only: where the server keeps its files is not the caller's business. A key limited to
    // some indexes sees only those.
    res.json({ indexes: [...service.indexes.entries()].filter(([name]) => mayUseIndex(req, name)).map(([name, index]) => ({ name, manifest: index.manifest, written: service.writtenSummary(name) })) });
  });

  const served = () => service.indexes;
  app.get('/demonstrations', allowIndexes(served, queryIndex), async (req, res) => {
    const query = parseInput(DemoQuerySchema, singleValued(req.query), 'query');
    // Serialised as a unit of the shared main-thread work, as a batch's results are: a key with many connections
    // then cannot crowd a one-connection key's answers out with its own serialisation (issue 25's tail).
    let json: Buffer | undefined;
    for await (const result of service.runJsonBytes(service.plan([query]), requestSignal(res))) json = result;
    sendJson(res, json!);
  });

  app.post('/demonstrations', allowIndexes(served, batchIndexes), async (req, res) => {
    const body = (req.body ?? {}) as { queries?: unknown };
    checkBatchLength(body.queries, service.limits);
    const batch = parseInput(DemoBatchSchema, body, 'body');
    const started = performance.now();
    const plan = service.plan(batch.queries); // every input error is a 400 before the answer begins
    // Streamed at once, then result by result as each is ready, in order: the answer is never held whole in
    // memory, the client sees progress however long the batch takes, and a client that goes away stops it.
    await streamJsonObject(res, 'results', service.runJson(plan, requestSignal(res)), () => ({
      took_ms: Number((performance.now() - started).toFixed(2)),
    }));
  });

  app.post('/prompts', allowIndexes(served, bodyIndex), async (req, res) => {
    res.json(await service.prompt(parsePromptRequest(req.body ?? {}), requestSignal(res)));
  });

  app.use(writeRoutes(service));

  app.use((req, res) => {
    res.status(404).json({ error: { param: null, message: `no route ${req.method} ${req.path}` } });
  });

  app.use(answerError);
  return app;
}
