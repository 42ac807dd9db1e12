import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Express } from 'express';

interface ExpressClasses {
  Request: new (socket: Socket) => http.IncomingMessage;
  Response: new (req: http.IncomingMessage) => http.ServerResponse;
}

const adopted = new WeakMap<object, ExpressClasses>();

/** Gives `target` everything `source` defines itself (not its constructor), and its prototype. */
function inherit(target: object, source: object): void {
  Object.setPrototypeOf(target, Object.getPrototypeOf(source) as object);
  const own = Object.entries(Object.getOwnPropertyDescriptors(source)).filter(([name]) => name !== 'constructor');
  Object.defineProperties(target, Object.fromEntries(own));
}

/**
 * Subclasses of node's request and response whose prototypes carry Express's: the app's
 * `request`/`response` objects are replaced by these prototypes, so the `Object.setPrototypeOf`
 * Express does on every request finds the prototype already in place and changes nothing.
 * Real subclasses (rather than functions with a borrowed prototype) let V8 lay the objects out
 * as it does node's own, which measured about 12% less CPU per request.
 */
function expressClasses(app: Express): ExpressClasses {
  const known = adopted.get(app);
  if (known !== undefined) return known;
  class Request extends http.IncomingMessage {}
  class Response extends http.ServerResponse {}
  inherit(Request.prototype, app.request);
  inherit(Response.prototype, app.response);
  (app as { request: object }).request = Request.prototype;
  (app as { response: object }).response = Response.prototype;
  const classes = { Request, Response };
  adopted.set(app, classes);
  return classes;
}

/** Limits every listener applies, against slow-header (slowloris) and connection-flood attacks. */
export interface ListenerOptions {
  /** Complete request headers must arrive within this, ms (HEADERS_TIMEOUT_MS). */
  headersTimeoutMs: number;
  /**
   * The whole request (headers and body) must arrive within this, ms (REQUEST_TIMEOUT_MS). Node
   * stops timing a request once it has been received, so long responses (SSE) are not limited.
   */
  requestTimeoutMs: number;
  /** Connections beyond this are closed as they arrive (MAX_CONNECTIONS). */
  maxConnections: number;
  /** PEM certificate and key: the listener speaks HTTPS (and WSS). */
  tls?: { cert: Buffer; key: Buffer } | undefined;
}

/**
 * Node looks for expired headers and requests only every `connectionsCheckingInterval` (30 s by
 * default), which would let a slow client hold its socket up to 30 s past HEADERS_TIMEOUT_MS.
 */
export function checkingIntervalMs(headersTimeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4)));
}

function serverOptions(limits: ListenerOptions | undefined): http.ServerOptions & https.ServerOptions {
  if (limits === undefined) return { requestTimeout: 0 };
  return {
    headersTimeout: limits.headersTimeoutMs,
    // Node refuses a request timeout shorter than the headers timeout.
    requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
    connectionsCheckingInterval: checkingIntervalMs(limits.headersTimeoutMs),
    ...(limits.tls ? { cert: limits.tls.cert, key: limits.tls.key } : {}),
  };
}

/**
 * A plain or TLS server with the listener limits. An https.Server has every member of an
 * http.Server that this code and Socket.IO use (listen, close, closeAllConnections, the request
 * and upgrade events), so both are handed around as http.Server.
 */
function makeServer(options: http.ServerOptions & https.ServerOptions, handler: http.RequestListener, limits: ListenerOptions | undefined): http.Server {
  const server = limits?.tls ? (https.createServer(options, handler) as unknown as http.Server) : http.createServer(options, handler);
  if (limits !== undefined) server.maxConnections = limits.maxConnections;
  return server;
}

/**
 * An HTTP server whose request and response objects are born with Express's prototypes.
 * Express re-parents every req/res with Object.setPrototypeOf; when the prototype is already the
 * right one that call is a no-op, so V8 keeps its fast object shapes and the server keeps most of
 * node:http's throughput (see docs/performance.md).
 */
export function createHttpServer(
  app: Express | ((req: http.IncomingMessage, res: http.ServerResponse) => void),
  fast?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean,
  limits?: ListenerOptions,
): http.Server {
  const appHandler = app as unknown as http.RequestListener;
  const handler: http.RequestListener = fast ? (req, res) => void (fast(req, res) || appHandler(req, res)) : appHandler;
  const expressApp = app as Partial<Express>;
  if (expressApp.request === undefined || expressApp.response === undefined) return makeServer(serverOptions(limits), handler, limits);
  const { Request, Response } = expressClasses(app as Express);
  return makeServer(
    {
      IncomingMessage: Request as typeof http.IncomingMessage,
      ServerResponse: Response as unknown as typeof http.ServerResponse,
      keepAliveTimeout: 5000,
      ...serverOptions(limits),
    },
    handler,
    limits,
  );
}

export class PortInUseError extends Error {
  readonly code = 'port-in-use';
  constructor(readonly host: string, readonly port: number, what: string) {
    super(
      `${what} port ${port} on ${host} is already in use — another Orchestra or another program is listening there; stop it or pick another port (--port, API_PORT or WEBSOCKET_PORT)`,
    );
    this.name = 'PortInUseError';
  }
}

export function listen(server: http.Server, port: number, host: string, what = 'HTTP'): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new PortInUseError(host, port, what));
      else if (err.code === 'EACCES') reject(new Error(`${what} port ${port} on ${host} needs privileges this process does not have; use a port above 1023`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new Error(`${host} is not an address of this machine; check HOST / --host`));
      else reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Stops accepting, lets in-flight requests finish, then cuts whatever is still open. */
export function closeServer(server: http.Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      server.closeAllConnections();
      resolve();
      return;
    }
    const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
