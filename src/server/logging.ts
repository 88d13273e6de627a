import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type DestinationStream, type Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';
import { SettingError } from '../errors.js';
import { keyNameOf } from '../keys/auth.js';

/** A client's own request id is kept (and echoed) when it looks like one; otherwise one is made. */
const CLIENT_ID = /^[\w.:-]{1,128}$/;

/**
 * Credentials never reach a log line: the request serializer below keeps no header at all, and these paths are
 * redacted anyway, should a line ever carry a request's headers (pino-http's default serializer does).
 */
const REDACTED = ['req.headers.authorization', 'req.headers["proxy-authorization"]', 'req.headers.cookie', 'headers.authorization', 'headers["proxy-authorization"]'];

/**
 * The service's JSON log lines (pino), at a level the door passes (the setting ERC_DEMOS_LOG_LEVEL; a bad value stops
 * the start, naming the variable).
 */
export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(level)) throw new SettingError(`ERC_DEMOS_LOG_LEVEL=${level}: must be one of ${levels.join(', ')}`);
  const options = { level, base: { service: 'erc-demos' }, redact: { paths: REDACTED, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * One JSON line per answered request (pino-http), with a request id that is also the `x-request-id` response
 * header. Utterance texts stay out of the logs at the default level: the line has the path without its query
 * string; at debug level the query string is logged too. Bodies and headers are never logged; the name of the
 * request's API key is (`key`), its value never.
 */
export function requestLogging(logger: Logger): HttpLogger {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
      res.setHeader('x-request-id', id);
      return id;
    },
    // The name of the key the request came with (src/keys/auth.ts), never the key; absent for anonymous requests.
    customProps(req: IncomingMessage) {
      const key = keyNameOf(req);
      return key === undefined ? {} : { key };
    },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
    serializers: {
      req(req: { id: string; method: string; url: string }) {
        const [path, query] = req.url.split('?', 2);
        return { id: req.id, method: req.method, path, ...(logger.isLevelEnabled('debug') && query ? { query } : {}) };
      },
      res(res: { statusCode: number }) {
        return { status: res.statusCode };
      },
    },
  });
}
