import { createServer, STATUS_CODES, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Settings } from '../settings.js';

type HttpSettings = Pick<Settings, 'maxHeaderBytes' | 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'socketTimeoutMs' | 'maxConnections'>;

/** What a client error at the HTTP layer (before any route runs) is answered with. */
function clientErrorAnswer(error: NodeJS.ErrnoException, settings: HttpSettings): { status: number; param: string | null; message: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, param: 'url', message: `the request line and headers are over ${settings.maxHeaderBytes} bytes (ERC_DEMOS_MAX_HEADER_BYTES); send long input by POST` };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, param: null, message: `the request was not received in time (headers within ${settings.headersTimeoutMs} ms, the whole request within ${settings.requestTimeoutMs} ms)` };
    default:
      return { status: 400, param: null, message: `malformed HTTP request (${error.code ?? error.message})` };
  }
}

/**
 * The HTTP server around the app, with every HTTP-layer limit set (settings.ts): header size (any valid GET fits:
 * a 2000-character utterance percent-encodes to at most 24 KB), time to receive headers and whole requests,
 * keep-alive and idle-socket timeouts (a connection that sends nothing at all is closed after the header timeout), and
 * a connection cap. Errors the HTTP parser raises before any route runs
 * (headers too large, a timeout, a malformed request) are answered in JSON like every other error; so are a missing
 * Host and an unsupported Expect, left to the app (request-guards.ts), which logs them.
 */
export function createHttpServer(app: RequestListener, settings: HttpSettings): Server {
  if (settings.headersTimeoutMs > settings.requestTimeoutMs) {
    throw new Error(`ERC_DEMOS_HEADERS_TIMEOUT_MS (${settings.headersTimeoutMs}) must not exceed ERC_DEMOS_REQUEST_TIMEOUT_MS (${settings.requestTimeoutMs})`);
  }
  const server = createServer({
    maxHeaderSize: settings.maxHeaderBytes,
    headersTimeout: settings.headersTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    // How often Node checks the two timeouts above (default 30 s, which would let a slow client overstay them).
    connectionsCheckingInterval: Math.min(1000, settings.headersTimeoutMs),
    // An HTTP/1.1 request without Host reaches the app, which answers a JSON 400 and logs it (request-guards.ts),
    // instead of Node's empty-bodied 400.
    requireHostHeader: false,
  }, app);
  // Expect: 100-continue: "100 Continue" goes out only when the app starts reading the body, so a request refused
  // on its headers (a Content-Length over the body limit, a Host not allowed: request-guards.ts) gets its answer at
  // once and the client never uploads. An answer given without reading the body closes the connection.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('Connection', 'close');
    req.once('resume', () => {
      if (res.headersSent) return;
      res.removeHeader('Connection');
      res.writeContinue();
    });
    server.emit('request', req, res);
  });
  // Any other expectation is the app's to answer too: a JSON 417 (request-guards.ts), not Node's empty one.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
  server.timeout = settings.socketTimeoutMs;
  server.maxConnections = settings.maxConnections;
  // Node's header timeout starts with the first byte: a connection that never sends one would stay until the
  // socket timeout. It gets the same time to start a request as to finish its headers.
  server.on('connection', (socket: Socket) => {
    const silent = setTimeout(() => {
      if (socket.bytesRead === 0) socket.destroy();
    }, settings.headersTimeoutMs);
    silent.unref();
    socket.once('close', () => clearTimeout(silent));
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const answered = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (error.code === 'ECONNRESET' || !socket.writable || answered) {
      socket.destroy();
      return;
    }
    const { status, param, message } = clientErrorAnswer(error, settings);
    const body = JSON.stringify({ error: { param, message } });
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  return server;
}
