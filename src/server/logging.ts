import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { SettingError } from '../errors.js';
import { keyNameOf } from '../keys/auth.js';

/** A client's own request id is kept (and echoed) when it looks like one; otherwise one is made. */
const CLIENT_ID = /^[\w.:-]{1,128}$/;

/**
 * Credentials never reach a log line: the request's fields below hold no header at all, and these paths are
 * redacted anyway, should a line ever carry a request's headers.
 */
const REDACTED = ['req.headers.authorization', 'req.headers["proxy-authorization"]', 'req.headers.cookie', 'headers.authorization', 'headers["proxy-authorization"]'];

/**
 * The service's JSON log lines (pino), at a level the door passes (the setting ERC_DEMOS_LOG_LEVEL; a bad value stops
 * the start, naming the variable); stdout by default, each line written at once (pino's synchronous destination: an
 * asynchronous one measured worse here, each line waking a thread-pool thread on an already busy 2-core machine);
 * `serve` gives it a destination that writes in blocks (log-destination.ts).
 */
export function createLogger(level = 'info', destination?: DestinationStream & { flush?: () => void }): Logger {
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(level)) throw new SettingError(`ERC_DEMOS_LOG_LEVEL=${level}: must be one of ${levels.join(', ')}`);
  const options: LoggerOptions = { level, base: { service: 'erc-demos' }, redact: { paths: REDACTED, censor: '[redacted]' } };
  // A destination that holds lines (log-destination.ts) writes an error's line at once, with those before it.
  const flush = destination?.flush?.bind(destination);
  if (flush) {
    options.hooks = {
      logMethod(args, method, levelValue) {
        method.apply(this, args);
        if (levelValue >= ERROR_LEVEL) flush();
      },
    };
  }
  return destination ? pino(options, destination) : pino(options);
}

/** pino's number for level error. */
const ERROR_LEVEL = 50;

/** What a request's line says of it: id, method, path (and the query string at debug level only). */
interface RequestFields {
  id: string;
  method: string;
  path: string;
  query?: string;
}

/** Each logged request's fields and its logger for lines of its own (made when first asked: an error's line). */
const logged = new WeakMap<IncomingMessage, { fields: RequestFields; logger: Logger; child?: Logger }>();

const SILENT = pino({ level: 'silent' });

/** The logger of one request's own lines (an error the door logs), bound to its fields; silent for a request not logged. */
export function requestLog(req: IncomingMessage): Logger {
  const entry = logged.get(req);
  if (!entry) return SILENT;
  entry.child ??= entry.logger.child({ req: entry.fields });
  return entry.child;
}

/**
 * One JSON line per answered request, with a request id that is also the `x-request-id` response header:
 * `{level, time, service, req: {id, method, path}, key, res: {status}, responseTime, msg}`, msg "request completed"
 * ("request aborted" when the client left first; "request errored" with `err`, at level error, for a 5xx). Utterance
 * texts stay out of the logs at the default level: the line has the path without its query string; at debug level
 * the query string is logged too. Bodies and headers are never logged; the name of the request's API key is (`key`),
 * its value never. The lines pino-http wrote, made here directly: pino-http made two child loggers per request
 * (~0.1 ms of the main thread each time, issue 26), where a line needs one object.
 */
export function requestLogging(logger: Logger): (req: Request, res: Response, next: NextFunction) => void {
  const withQuery = logger.isLevelEnabled('debug');
  return (req, res, next) => {
    const started = Date.now();
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', id);
    const url = req.url;
    const mark = url.indexOf('?');
    const query = mark < 0 ? '' : url.slice(mark + 1).split('?', 1)[0];
    const fields: RequestFields = { id, method: req.method, path: mark < 0 ? url : url.slice(0, mark), ...(withQuery && query ? { query } : {}) };
    logged.set(req, { fields, logger });
    const done = (error?: Error) => {
      res.off('close', done);
      res.off('finish', done);
      res.off('error', done);
      const failed = error ?? (res.statusCode >= 500 ? new Error(`failed with status code ${res.statusCode}`) : undefined);
      const level = failed ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const key = keyNameOf(req);
      const line = { req: fields, ...(key === undefined ? {} : { key }), res: { status: res.statusCode }, ...(failed ? { err: failed } : {}), responseTime: Date.now() - started };
      logger[level](line, failed ? 'request errored' : !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted');
    };
    res.on('close', done);
    res.on('finish', done);
    res.on('error', done);
    next();
  };
}
