import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../fixtures/test-server.js';
import { connected, rawRequest, refusalOf, tracker } from './helpers.js';

/**
 * SameSite ignores ports: a page on another port of 127.0.0.1 gets the paired cookie sent along.
 * A Socket.IO handshake carrying an Origin is accepted only from the server's own origin or one
 * in CORS_ORIGINS, on both transports, whatever credential it carries.
 */
const t = tracker();
let s: TestServer;
let own: string;
beforeAll(async () => {
  s = await t.server({ provider: false, overrides: { corsOrigins: 'https://frontend.example' } });
  own = new URL(s.server.wsUrl).origin;
});
afterAll(() => t.cleanup());

const hostile = (): string => `http://127.0.0.1:${Number(new URL(s.server.wsUrl).port) + 1}`;

/** A raw WebSocket upgrade to /ws; resolves with the HTTP status (101 when accepted) and body. */
function upgrade(origin: string | undefined, token: string): Promise<{ status: number; body: string }> {
  const u = new URL(s.server.wsUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: '/ws/?EIO=4&transport=websocket',
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        Authorization: `Bearer ${token}`,
        ...(origin !== undefined ? { Origin: origin } : {}),
      },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Origin on the Socket.IO handshake', () => {
  it('a foreign origin is refused on the polling transport with origin-not-allowed, even with the owner token', async () => {
    const res = await rawRequest(s.server.wsUrl, {
      path: '/ws/?EIO=4&transport=polling',
      headers: { Origin: hostile(), Authorization: `Bearer ${s.token}` },
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.body).toContain('origin-not-allowed');
    const c = t.client(s.server.wsUrl, { transport: 'polling', token: s.token, headers: { Origin: hostile() } });
    expect(await refusalOf(c)).not.toBe('connected');
  });

  it('a foreign origin is refused on the websocket transport, even with the owner token', async () => {
    const res = await upgrade(hostile(), s.token);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.body).toContain('origin-not-allowed');
    const c = t.client(s.server.wsUrl, { transport: 'websocket', token: s.token, headers: { Origin: hostile() } });
    expect(await refusalOf(c)).not.toBe('connected');
  });

  it.each(['websocket', 'polling'] as const)('the server’s own origin, a listed one, and no Origin at all connect (%s)', async (transport) => {
    const variants: Array<Record<string, string>> = [{ Origin: own }, { Origin: 'https://frontend.example' }, {}];
    for (const headers of variants) {
      const c = t.client(s.server.wsUrl, { transport, token: s.token, headers });
      await connected(c);
      c.disconnect();
    }
  });

  it.each([
    ['another scheme', () => own.replace('http:', 'https:')],
    ['another host name', () => own.replace('127.0.0.1', 'evil.example')],
    ['a look-alike of a listed origin', () => 'https://frontend.example.evil.test'],
    ['the literal null origin', () => 'null'],
    ['garbage', () => '%%%'],
  ])('%s is refused', async (_what, origin) => {
    expect((await upgrade(origin(), s.token)).status).toBeGreaterThanOrEqual(400);
  });

  it('the own origin is accepted on a raw websocket upgrade (101)', async () => {
    expect((await upgrade(own, s.token)).status).toBe(101);
  });
});
