/**
 * Listening and closing: the listener limits, the errors a failed listen turns into, and the
 * close contract (stop accepting, let in-flight requests finish, cut what is left at the time
 * limit, leave no timer behind). Real servers on loopback, real connections.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { PortInUseError, checkingIntervalMs, closeServer, createHttpServer, listen } from '../../../backend/http/listen.js';
import { tempDirs } from '../../fixtures/test-server.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const handler = (fn: Handler): Handler => fn;

const servers: http.Server[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await closeServer(s, 100);
});
const dir = tempDirs();

const LIMITS = { headersTimeoutMs: 2000, requestTimeoutMs: 5000, maxConnections: 7 };

function track(server: http.Server): http.Server {
  servers.push(server);
  return server;
}

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Opens a raw connection and sends `text`; resolves once the server has accepted it. */
async function rawClient(port: number, text = ''): Promise<{ socket: net.Socket; closed: Promise<void>; data: () => string }> {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  // A connection the server cuts may end in a reset: that is the outcome these tests look for.
  socket.on('error', () => undefined);
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString()));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  if (text !== '') socket.write(text);
  return { socket, closed, data: () => received };
}

describe('checkingIntervalMs', () => {
  it('checks a quarter of the headers timeout, between 50 ms and 1 s', () => {
    expect(checkingIntervalMs(2000)).toBe(500);
    expect(checkingIntervalMs(2003)).toBe(500);
    expect(checkingIntervalMs(100)).toBe(50);
    expect(checkingIntervalMs(10_000)).toBe(1000);
    expect(checkingIntervalMs(4000)).toBe(1000);
    expect(checkingIntervalMs(200)).toBe(50);
  });
});

describe('createHttpServer limits', () => {
  it('applies the headers, request and connection limits', () => {
    const server = createHttpServer(express(), undefined, LIMITS);
    expect(server.headersTimeout).toBe(2000);
    expect(server.requestTimeout).toBe(5000);
    expect(server.maxConnections).toBe(7);
    expect(server.keepAliveTimeout).toBe(5000);
    expect(server).not.toBeInstanceOf(https.Server);
  });

  it('never sets a request timeout shorter than the headers timeout', () => {
    const server = createHttpServer(express(), undefined, { ...LIMITS, requestTimeoutMs: 1000 });
    expect(server.requestTimeout).toBe(2000);
  });

  it('without limits a plain handler gets no request timeout and node defaults otherwise', () => {
    const server = createHttpServer(handler((_req, res) => res.end('plain')));
    expect(server.requestTimeout).toBe(0);
    expect(server.maxConnections).toBeFalsy();
    const limited = createHttpServer(handler((_req, res) => res.end('plain')), undefined, LIMITS);
    expect(limited.headersTimeout).toBe(2000);
    expect(limited.maxConnections).toBe(7);
  });

  it('a plain handler serves requests, and a fast path that answers keeps the app out', async () => {
    const seen: string[] = [];
    const server = track(
      createHttpServer(
        handler((req, res) => {
          seen.push(`app ${req.url}`);
          res.end('from app');
        }),
        (req, res) => {
          if (req.url !== '/fast') return false;
          seen.push('fast');
          res.end('from fast path');
          return true;
        },
      ),
    );
    const port = await listen(server, 0, '127.0.0.1');
    expect(await (await fetch(`http://127.0.0.1:${port}/fast`)).text()).toBe('from fast path');
    expect(await (await fetch(`http://127.0.0.1:${port}/slow`)).text()).toBe('from app');
    expect(seen).toEqual(['fast', 'app /slow']);
  });

  it('an Express app keeps its own request and response helpers on the shared prototypes', async () => {
    const app = express();
    app.get('/', (req, res) => {
      res.json({ ip: req.ip, hasRedirect: typeof res.redirect === 'function', ctor: req.constructor === http.IncomingMessage });
    });
    const server = track(createHttpServer(app, undefined, LIMITS));
    const port = await listen(server, 0, '127.0.0.1');
    const body = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { ip: string; hasRedirect: boolean; ctor: boolean };
    expect(body.ip).toMatch(/127\.0\.0\.1/);
    expect(body.hasRedirect).toBe(true);
    // The prototypes carry what Express defines, not its constructor.
    expect(body.ctor).toBe(false);
  });

  it('speaks TLS when given a certificate', async () => {
    const tls = dir('orchestra-listen-tls-');
    const cert = path.join(tls, 'c.crt');
    const key = path.join(tls, 'c.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const app = express();
    app.get('/', (_req, res) => {
      res.send('secure');
    });
    const server = track(createHttpServer(app, undefined, { ...LIMITS, tls: { cert: readFileSync(cert), key: readFileSync(key) } }));
    expect(server).toBeInstanceOf(https.Server);
    const port = await listen(server, 0, '127.0.0.1');
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(`https://127.0.0.1:${port}/`, { ca: readFileSync(cert) }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    expect(body).toBe('secure');
  });
});

describe('listen', () => {
  it('resolves with the port and leaves no listeners behind', async () => {
    const server = track(http.createServer());
    const [errors, listening] = [server.listenerCount('error'), server.listenerCount('listening')];
    const port = await listen(server, 0, '127.0.0.1');
    expect(port).toBe((server.address() as net.AddressInfo).port);
    expect(server.listenerCount('error')).toBe(errors);
    expect(server.listenerCount('listening')).toBe(listening);
  });

  it('a port in use is a PortInUseError that says what to do', async () => {
    const first = track(http.createServer());
    const port = await listen(first, 0, '127.0.0.1');
    const second = track(http.createServer());
    const listening = second.listenerCount('listening');
    const err = await listen(second, port, '127.0.0.1', 'Socket.IO').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortInUseError);
    expect(err).toMatchObject({ code: 'port-in-use', host: '127.0.0.1', port, name: 'PortInUseError' });
    expect((err as Error).message).toBe(
      `Socket.IO port ${port} on 127.0.0.1 is already in use — another Orchestra or another program is listening there; stop it or pick another port (--port, API_PORT or WEBSOCKET_PORT)`,
    );
    expect(second.listenerCount('listening')).toBe(listening);
    const third = track(http.createServer());
    expect(((await listen(third, port, '127.0.0.1').catch((e: unknown) => e)) as Error).message).toMatch(/^HTTP port /);
  });

  it('an address that is not this machine\'s names HOST', async () => {
    const err = (await listen(track(http.createServer()), 0, '192.0.2.1').catch((e: unknown) => e)) as Error;
    expect(err.message).toBe('192.0.2.1 is not an address of this machine; check HOST / --host');
  });

  it('a privileged port without the privilege says to use a port above 1023', async () => {
    const server = track(http.createServer());
    // Simulate the error node reports for an unprivileged bind below 1024 (this test may run as root).
    server.listen = function (this: http.Server) {
      queueMicrotask(() => this.emit('error', Object.assign(new Error('listen EACCES'), { code: 'EACCES' })));
      return this;
    } as typeof server.listen;
    const err = (await listen(server, 80, '127.0.0.1').catch((e: unknown) => e)) as Error;
    expect(err.message).toBe('HTTP port 80 on 127.0.0.1 needs privileges this process does not have; use a port above 1023');
  });

  it('any other error is passed on as it is', async () => {
    const err = (await listen(track(http.createServer()), 0, 'no-such-host.invalid').catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.code).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });
});

describe('closeServer', () => {
  it('lets an in-flight request finish, closes idle keep-alive connections at once, and refuses new ones', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let started: () => void = () => undefined;
    const inFlight = new Promise<void>((r) => (started = r));
    const server = track(
      createHttpServer(
        handler((req, res) => {
          if (req.url === '/slow') {
            started();
            void held.then(() => res.end('finished'));
          } else res.end('quick');
        }),
      ),
    );
    const port = await listen(server, 0, '127.0.0.1');
    // An idle keep-alive connection: one finished request, socket left open.
    const idle = await rawClient(port, 'GET /quick HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => idle.data()).toContain('quick');
    const slow = await rawClient(port, 'GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await inFlight;

    let done = false;
    const closing = closeServer(server, 60_000).then(() => (done = true));
    await idle.closed; // cut at once, not at the time limit
    expect(done).toBe(false);
    expect(await new Promise<string>((resolve) => net.connect(port, '127.0.0.1').on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')))).toBe('ECONNREFUSED');
    release();
    await closing;
    await slow.closed;
    expect(slow.data()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*finished$/);
  });

  it('cuts a request still running at the time limit, and leaves no timer behind', async () => {
    const server = track(createHttpServer(handler(() => undefined))); // never answers
    const port = await listen(server, 0, '127.0.0.1');
    const stuck = await rawClient(port, 'GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => server.listenerCount('request') > 0 && (server as unknown as { _connections: number })._connections).toBe(1);
    await closeServer(server, 50);
    await stuck.closed;
    expect(stuck.data()).toBe('');
  });

  it('clears its time limit once the server closed in time', async () => {
    const server = track(createHttpServer(handler((_req, res) => res.end('ok'))));
    await listen(server, 0, '127.0.0.1');
    const before = timers();
    await closeServer(server, 60_000);
    expect(timers()).toBe(before);
  });

  it('on a server that is not listening, resolves at once and cuts any connection', async () => {
    const server = createHttpServer(handler((_req, res) => res.end('ok')));
    await closeServer(server, 60_000);
    expect(server.listening).toBe(false);
    const listening = track(createHttpServer(handler(() => undefined)));
    const port = await listen(listening, 0, '127.0.0.1');
    const client = await rawClient(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => (listening as unknown as { _connections: number })._connections).toBe(1);
    // Stop listening without closing connections, as a failed start leaves it; close() must cut them.
    // The held connection keeps close() from calling back; closeServer below does the cutting.
    listening.close();
    expect(listening.listening).toBe(false);
    await closeServer(listening, 60_000);
    await client.closed;
  });
});
