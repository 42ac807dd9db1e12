import http from 'node:http';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../backend/contract/events.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';
import { startTestServer, type TestServer, type TestServerOptions } from '../../fixtures/test-server.js';

export type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Servers and clients a test file started; closed by `cleanup()` in afterEach/afterAll. */
export function tracker() {
  const servers: TestServer[] = [];
  const clients: Client[] = [];
  return {
    async server(options: TestServerOptions = {}): Promise<TestServer> {
      const t = await startTestServer(options);
      servers.push(t);
      return t;
    },
    client(
      url: string,
      options: { token?: string; transport?: 'websocket' | 'polling'; headers?: Record<string, string> } = {},
    ): Client {
      const c: Client = connect(url, {
        path: '/ws',
        transports: [options.transport ?? 'websocket'],
        auth: options.token === undefined ? {} : { token: options.token },
        extraHeaders: options.headers ?? {},
        reconnection: false,
        // How long the handshake may take before the client gives up: a liveness bound, since a
        // loaded machine can take seconds (refusals come back as soon as the server answers).
        timeout: PATIENCE_MS,
      });
      clients.push(c);
      return c;
    },
    async cleanup(): Promise<void> {
      for (const c of clients.splice(0)) c.disconnect();
      for (const t of servers.splice(0)) await t.close();
    },
  };
}

/** Resolves on connect; rejects with the connect_error (its `data` holds the refusal's code). */
export function connected(c: Client): Promise<void> {
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('connect_error', (err) => reject(err));
  });
}

/**
 * Resolves with the reason once `c` is disconnected; rejects if that has not happened within the
 * suite's patience (a socket left connected for good).
 */
export function disconnected(c: Client, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: still connected after ${PATIENCE_MS} ms`)), PATIENCE_MS);
    c.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

/** The code a handshake refusal carries: `err.data.code` from middleware, else the message. */
export async function refusalOf(c: Client): Promise<string> {
  try {
    await connected(c);
    return 'connected';
  } catch (err) {
    const data = (err as { data?: { code?: string } }).data;
    return data?.code ?? (err as Error).message;
  }
}

/** A raw HTTP request (headers fetch would refuse to send are fine here). */
export function rawRequest(
  url: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method: options.method ?? 'GET', path: options.path, headers: options.headers ?? {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

export const errorCode = async (res: Response): Promise<string> => ((await res.json()) as { error: { code: string } }).error.code;
