import http from 'node:http';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

/**
 * Clients that are not on loopback. Rather than faking the remote address, the server binds to
 * 0.0.0.0 and the client connects to (and from) an address of this machine's own network
 * interface: the server then sees a real non-loopback peer address, exactly as it would for a
 * machine on the LAN. (127.0.0.2 would not do: the whole 127/8 block is loopback.)
 */
function lanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('this machine has no non-loopback IPv4 address; these tests need one to act as a remote client');
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(host: string, port: number, pathname: string, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, path: pathname, localAddress: host, headers: token === undefined ? {} : { Authorization: `Bearer ${token}` }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const LIMIT = 4;
let t: TestServer;
let lan: string;
beforeAll(async () => {
  lan = lanAddress();
  t = await startTestServer({ provider: false, overrides: { host: '0.0.0.0', rateLimitPerMinute: LIMIT } });
});
afterAll(async () => {
  await t.close();
});

describe('remote clients', () => {
  it('/metrics is open to a local scraper and asks a remote one for the token', async () => {
    const local = await get('127.0.0.1', t.server.port, '/metrics');
    expect(local.status).toBe(200);
    expect(local.body).toContain('orchestra_http_request_duration_seconds');

    const remote = await get(lan, t.server.port, '/metrics');
    expect(remote.status).toBe(401);
    expect((JSON.parse(remote.body) as { error: { code: string } }).error.code).toBe('unauthorized');
    const wrong = await get(lan, t.server.port, '/metrics', 'w'.repeat(32));
    expect(wrong.status).toBe(401);
    const withToken = await get(lan, t.server.port, '/metrics', t.token);
    expect(withToken.status).toBe(200);
    expect(withToken.body).toContain('orchestra_http_request_duration_seconds');
  });

  it(`rate-limits a remote client after ${LIMIT} API requests a minute, on fast-path and routed APIs alike, never loopback`, async () => {
    const paths = ['/api/status', '/api/conversations', '/api/status', '/api/conversations'];
    for (const p of paths) expect((await get(lan, t.server.port, p, t.token)).status, p).toBe(200);
    const limited = await get(lan, t.server.port, '/api/conversations', t.token);
    expect(limited.status).toBe(429);
    expect((JSON.parse(limited.body) as { error: { code: string } }).error.code).toBe('rate-limited');
    const retry = Number(limited.headers['retry-after']);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    expect((await get(lan, t.server.port, '/api/status', t.token)).status).toBe(429);
    // Loopback (the desktop UI, local scripts) is never limited.
    for (let i = 0; i < LIMIT * 2; i++) expect((await get('127.0.0.1', t.server.port, '/api/conversations', t.token)).status).toBe(200);
    // Probes are outside the limit: a load balancer's health checks keep working.
    expect((await get(lan, t.server.port, '/healthz')).status).toBe(200);
  });
});
