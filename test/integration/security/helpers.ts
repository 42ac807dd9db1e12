import http from 'node:http';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../backend/contract/events.js';
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
        timeout: 5000,
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
