import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkingIntervalMs } from '../../backend/http/listen.js';
import { SCHEDULING_SLACK_MS, TIMER_ROUNDING_MS } from '../fixtures/patience.js';
import { readSse, startTestServer, type TestServer } from '../fixtures/test-server.js';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/**
 * The latest moment a listener with these limits closes a connection that is late, counted from
 * when the server started timing it: the limit, then Node's next look at its connections
 * (listen.ts), plus a loaded machine's scheduling.
 */
function closedBy(limitMs: number, headersTimeoutMs: number): number {
  return limitMs + checkingIntervalMs(headersTimeoutMs) + SCHEDULING_SLACK_MS;
}

/**
 * A raw client that never finishes its headers: once connected it sends a request line, then one
 * more header line every 100 ms. `afterMs` counts from the connect call, before the server could
 * have accepted the connection and started timing it, so a close earlier than the headers timeout
 * means the server closed early, however late this process ran.
 */
function dripHeaders(port: number): { closed: Promise<{ afterMs: number; answer: string }>; stop(): void } {
  const started = performance.now();
  const socket = net.connect(port, '127.0.0.1');
  let answer = '';
  let n = 0;
  let drip: NodeJS.Timeout | undefined;
  // The drip starts after the request line: a header line written before the connection is up
  // would be sent first and read as a malformed request line (400 at once, not the 408 under test).
  socket.on('connect', () => {
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    drip = setInterval(() => {
      if (!socket.destroyed) socket.write(`X-Drip-${n++}: a\r\n`);
    }, 100);
  });
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  socket.on('error', () => {});
  const closed = new Promise<{ afterMs: number; answer: string }>((resolve) =>
    socket.on('close', () => {
      clearInterval(drip);
      resolve({ afterMs: performance.now() - started, answer });
    }),
  );
  return {
    closed,
    stop: () => {
      clearInterval(drip);
      socket.destroy();
    },
  };
}

/** A keep-alive connection that completed one request and now sits idle, holding its slot. */
function idleConnection(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
    socket.once('data', () => resolve(socket));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before answering')));
  });
}

describe('slow clients and connection floods', () => {
  it('answers 408 and closes a connection that drips header bytes past HEADERS_TIMEOUT_MS, not before', async () => {
    const headersTimeoutMs = 1000;
    t = await startTestServer({ provider: false, overrides: { headersTimeoutMs, requestTimeoutMs: 2000 } });
    const clients = Array.from({ length: 20 }, () => dripHeaders(portOf(t!.url)));
    try {
      const results = await Promise.all(clients.map((c) => c.closed));
      for (const r of results) {
        const seen = `closed after ${r.afterMs.toFixed(0)} ms with ${JSON.stringify(r.answer.slice(0, 40))}`;
        // What closed it: the server's request timeout answer, not an error or a reset.
        expect(r.answer, seen).toMatch(/^HTTP\/1\.1 408/);
        // Not before the limit (a busy machine only makes the close later), and not never.
        expect(r.afterMs, seen).toBeGreaterThanOrEqual(headersTimeoutMs - TIMER_ROUNDING_MS);
        expect(r.afterMs, seen).toBeLessThan(closedBy(headersTimeoutMs, headersTimeoutMs));
      }
      // The server itself is fine.
      expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    } finally {
      for (const c of clients) c.stop();
    }
  });

  it('applies the same limit on a separate WEBSOCKET_PORT listener', async () => {
    const headersTimeoutMs = 1000;
    t = await startTestServer({ provider: false, overrides: { headersTimeoutMs, requestTimeoutMs: 2000, websocketPort: await freePort() } });
    const wsPort = portOf(t.server.wsUrl);
    expect(wsPort).not.toBe(portOf(t.url));
    const client = dripHeaders(wsPort);
    const r = await client.closed;
    expect(r.answer).toMatch(/^HTTP\/1\.1 408/);
    expect(r.afterMs).toBeGreaterThanOrEqual(headersTimeoutMs - TIMER_ROUNDING_MS);
    expect(r.afterMs).toBeLessThan(closedBy(headersTimeoutMs, headersTimeoutMs));
  });

  it('a request body must arrive within REQUEST_TIMEOUT_MS', async () => {
    const [headersTimeoutMs, requestTimeoutMs] = [500, 1000];
    t = await startTestServer({ provider: false, overrides: { headersTimeoutMs, requestTimeoutMs } });
    // Counted from the connect call, before the server could start timing the request.
    const started = performance.now();
    const socket = net.connect(portOf(t.url), '127.0.0.1');
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    let drip: NodeJS.Timeout | undefined;
    // Complete headers, then a body that trickles in; the trickle starts after the headers, so it
    // cannot be sent ahead of them.
    socket.on('connect', () => {
      socket.write(`POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t!.token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"mess`);
      drip = setInterval(() => !socket.destroyed && socket.write(' '), 100);
    });
    await new Promise((resolve) => socket.on('close', resolve));
    clearInterval(drip);
    const afterMs = performance.now() - started;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    // Cut by the request limit: its headers were in time, so not at the (shorter) headers limit.
    expect(afterMs).toBeGreaterThanOrEqual(requestTimeoutMs - TIMER_ROUNDING_MS);
    expect(afterMs).toBeLessThan(closedBy(requestTimeoutMs, headersTimeoutMs));
  });

  it('does not cut a streaming (SSE) reply that lasts longer than REQUEST_TIMEOUT_MS', async () => {
    const requestTimeoutMs = 1000;
    t = await startTestServer({ provider: { tokens: 12, tokenIntervalMs: 250 }, overrides: { headersTimeoutMs: 500, requestTimeoutMs } });
    const started = performance.now();
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'hello', stream: true } });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    // The reply outlived the request limit (eleven 250 ms pauses at least: a busy machine only
    // lengthens them) and still arrived whole.
    expect(performance.now() - started).toBeGreaterThan(requestTimeoutMs);
    expect(events.filter((e) => e.event === 'token')).toHaveLength(12);
    expect(events.at(-1)?.event).toBe('done');
  });

  it('refuses connections beyond MAX_CONNECTIONS and accepts again once one closes', async () => {
    t = await startTestServer({ provider: false, overrides: { maxConnections: 3 } });
    const port = portOf(t.url);
    const held = [await idleConnection(port), await idleConnection(port), await idleConnection(port)];
    try {
      await expect(idleConnection(port)).rejects.toThrow();
      held.pop()?.destroy();
      // The freed slot is taken again (the server may not have seen the close yet: retry on refusal).
      let served: net.Socket | undefined;
      for (let attempt = 0; attempt < 50 && served === undefined; attempt++) served = await idleConnection(port).catch(() => undefined);
      expect(served).toBeDefined();
      served?.destroy();
    } finally {
      for (const s of held) s.destroy();
    }
  });
});
