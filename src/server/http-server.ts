import { createServer, STATUS_CODES, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { SettingError } from '../errors.js';
import type { Settings } from '../settings.js';
import { capConnections } from './connection-cap.js';
import { parseCorsOrigins, withCors } from './cors.js';

type HttpSettings = Pick<Settings, 'maxHeaderBytes' | 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'socketTimeoutMs' | 'maxConnections'>
  & Partial<Pick<Settings, 'corsOrigins'>>;

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

/** Whose turn it is on a connection: the idle timeout runs only while the server waits on the client. */
interface Turns {
  /** Requests received whose answers the server has not finished writing (it is working on them). */
  working: number;
  /** Answers written in full but not yet read by the client, and streams waiting for the client to drain. */
  waiting: number;
  readonly socket: Socket;
  readonly idleMs: number;
}

const turnsOf = new WeakMap<ServerResponse, Turns>();

function clientsTurn(turns: Turns): void {
  turns.waiting += 1;
  if (!turns.socket.destroyed) turns.socket.setTimeout(turns.idleMs);
}

/** Back to the server's turn, unless it still waits on the client for something else. */
function clientDone(turns: Turns, keepNodeTimer: boolean): void {
  turns.waiting -= 1;
  // Once an answer is read in full with nothing else under way, Node's own keep-alive timer takes over.
  if (turns.waiting === 0 && !turns.socket.destroyed && !(keepNodeTimer && turns.working === 0)) turns.socket.setTimeout(0);
}

/**
 * For an answer streamed in parts: the server now waits for the client to read (its write buffer is full), so the
 * idle timeout runs until the returned function is called (drained). A no-op on a response not served here.
 */
export function awaitingClient(res: ServerResponse): () => void {
  const turns = turnsOf.get(res);
  if (!turns) return () => {};
  clientsTurn(turns);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    clientDone(turns, false);
  };
}

/**
 * The idle timeout (ERC_DEMOS_SOCKET_TIMEOUT_MS) of a connection counts only while the server waits on its client:
 * never while the server works on a request (embedding, search, between the parts of a streamed answer), only
 * while an answer waits to be read (written in full and not yet taken, or a stream whose buffer is full). Node's
 * own `server.timeout` would count the server's work too (a valid batch cut mid-work), so it is off; receiving a
 * request is bounded by the header and request timeouts, an idle kept-alive connection by the keep-alive timeout.
 */
function timeOnlyTheClient(server: Server, idleMs: number): void {
  server.timeout = 0;
  const bySocket = new WeakMap<Socket, Turns>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    let turns = bySocket.get(socket);
    if (!turns) {
      turns = { working: 0, waiting: 0, socket, idleMs };
      bySocket.set(socket, turns);
    }
    const t = turns;
    turnsOf.set(res, t);
    t.working += 1;
    if (t.waiting === 0) socket.setTimeout(0);
    let state: 'working' | 'written' | 'done' = 'working';
    // 'prefinish': the whole answer is written (res.end); what is left is for the client to read.
    res.once('prefinish', () => {
      if (state !== 'working') return;
      state = 'written';
      t.working -= 1;
      clientsTurn(t);
    });
    const finished = () => {
      if (state === 'working') t.working -= 1;
      else if (state === 'written') clientDone(t, true);
      state = 'done';
    };
    res.once('finish', finished);
    res.once('close', finished);
  });
}

/**
 * The HTTP server around the app, with every HTTP-layer limit set (settings.ts): header size (any valid GET fits:
 * a 2000-character utterance percent-encodes to at most 24 KB), time to receive headers and whole requests,
 * keep-alive and idle-socket timeouts (a connection that sends nothing at all is closed after the header timeout; the
 * idle-socket timeout counts only while the server waits on the client, never while it works), and
 * a connection cap that idle connections make room under (connection-cap.ts). Errors the HTTP parser raises before any route runs
 * (headers too large, a timeout, a malformed request) are answered in JSON like every other error; so are a missing
 * Host and an unsupported Expect, left to the app (request-guards.ts), which logs them.
 */
export function createHttpServer(app: RequestListener, settings: HttpSettings): Server {
  if (settings.headersTimeoutMs > settings.requestTimeoutMs) {
    throw new SettingError(`ERC_DEMOS_HEADERS_TIMEOUT_MS (${settings.headersTimeoutMs}) must not exceed ERC_DEMOS_REQUEST_TIMEOUT_MS (${settings.requestTimeoutMs})`);
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
  });
  // Before the app, which may answer at once: the turns must be tracked from the request's first moment.
  timeOnlyTheClient(server, settings.socketTimeoutMs);
  // CORS only where ERC_DEMOS_CORS_ORIGINS names origins (cors.ts); its preflights are answered before the app.
  server.on('request', withCors(app, parseCorsOrigins(settings.corsOrigins ?? '')));
  // Expect: 100-continue: "100 Continue" goes out only when the app starts reading the body, so a request refused
  // on its headers (a Content-Length over the body limit, a Host not allowed: request-guards.ts) gets its answer at
  // once and the client never uploads. An answer given without reading the body closes the connection.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    let bodyWanted = false;
    req.once('resume', () => {
      bodyWanted = true;
      if (!res.headersSent) res.writeContinue();
    });
    // Every answer's headers go through writeHead (res.end and res.write call it when it was not).
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
      if (!bodyWanted) this.setHeader('Connection', 'close');
      return writeHead.apply(this, args);
    } as ServerResponse['writeHead'];
    server.emit('request', req, res);
  });
  // Any other expectation is the app's to answer too: a JSON 417 (request-guards.ts), not Node's empty one.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
  // Not server.maxConnections: at the cap, the oldest connection with nothing under way makes room (connection-cap.ts).
  capConnections(server, settings.maxConnections);
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
    // The headers every answer carries (security-headers.ts), this one written before any route runs.
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  return server;
}
