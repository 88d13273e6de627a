import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type DestinationStream, type Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';
import { SettingError } from '../errors.js';

/** A client's own request id is kept (and echoed) when it looks like one; otherwise one is made. */
const CLIENT_ID = /^[\w.:-]{1,128}$/;

/**
 * The service's JSON log lines (pino), at a level the door passes (the setting ERC_DEMOS_LOG_LEVEL; a bad value stops
 * the start, naming the variable).
 */
export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(level)) throw new SettingError(`ERC_DEMOS_LOG_LEVEL=${level}: must be one of ${levels.join(', ')}`);
  return destination ? pino({ level, base: { service: 'erc-demos' } }, destination) : pino({ level, base: { service: 'erc-demos' } });
}

/**
 * One JSON line per answered request (pino-http), with a request id that is also the `x-request-id` response
 * header. Utterance texts stay out of the logs at the default level: the line has the path without its query
 * string; at debug level the query string is logged too. Bodies are never logged.
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
