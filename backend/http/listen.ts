import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

/**
 * An HTTP server whose request and response objects are born with Express's prototypes.
 * Express re-parents every req/res with Object.setPrototypeOf; when the prototype is already the
 * right one that call is a no-op, so V8 keeps its fast object shapes and the server keeps most of
 * node:http's throughput (see docs/performance.md).
 */
export function createHttpServer(
  app: Express | ((req: http.IncomingMessage, res: http.ServerResponse) => void),
  fast?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean,
): http.Server {
  const appHandler = app as unknown as http.RequestListener;
  const handler: http.RequestListener = fast ? (req, res) => void (fast(req, res) || appHandler(req, res)) : appHandler;
  const expressApp = app as Partial<Express>;
  if (expressApp.request === undefined || expressApp.response === undefined) return http.createServer(handler);
  const requestProto = expressApp.request as object;
  const responseProto = expressApp.response as object;

  function Request(this: http.IncomingMessage, socket: import('node:net').Socket): void {
    http.IncomingMessage.call(this, socket);
  }
  Request.prototype = requestProto;
  function Response(this: http.ServerResponse, req: http.IncomingMessage): void {
    // eslint-disable-next-line prefer-rest-params -- ServerResponse takes (req, options) and options must pass through
    (http.ServerResponse as unknown as (...args: unknown[]) => void).apply(this, [req, arguments[1]]);
  }
  Response.prototype = responseProto;

  const server = http.createServer(
    {
      IncomingMessage: Request as unknown as typeof http.IncomingMessage,
      ServerResponse: Response as unknown as typeof http.ServerResponse,
      keepAliveTimeout: 5000,
      requestTimeout: 0,
    },
    handler,
  );
  return server;
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
