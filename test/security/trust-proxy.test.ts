import { afterEach, describe, expect, it } from 'vitest';
import { clientAddressResolver } from '../../backend/http/security.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const statusOf = async (res: Promise<Response>): Promise<number> => {
  const r = await res;
  await r.text();
  return r.status;
};

describe('TRUST_PROXY', () => {
  it('off (the default): X-Forwarded-For is ignored, a loopback peer is local', async () => {
    t = await startTestServer({ provider: false, overrides: { rateLimitPerMinute: 2 } });
    const server = t;
    const viaProxy = { 'X-Forwarded-For': '203.0.113.7' };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await statusOf(server.api('/api/status', { headers: viaProxy })));
    expect(statuses).toEqual([200, 200, 200, 200]);
    // /metrics is open to local scrapers.
    expect(await statusOf(fetch(`${server.url}/metrics`, { headers: viaProxy }))).toBe(200);
  });

  it('on: the client behind a loopback proxy is the one rate limits and "is local" see', async () => {
    t = await startTestServer({ provider: false, overrides: { rateLimitPerMinute: 2, trustProxy: true } });
    const server = t;
    const from = (address: string) => ({ 'X-Forwarded-For': address });
    const first = [];
    for (let i = 0; i < 3; i++) first.push(await statusOf(server.api('/api/status', { headers: from('203.0.113.7') })));
    expect(first).toEqual([200, 200, 429]);
    // Another client behind the same proxy has its own window.
    expect(await statusOf(server.api('/api/status', { headers: from('203.0.113.8') }))).toBe(200);
    // A value the client itself put in front is not believed: the proxy's entry (right-most) is.
    expect(await statusOf(server.api('/api/status', { headers: from('127.0.0.1, 203.0.113.7') }))).toBe(429);
    // A remote client behind the proxy is not a local scraper.
    expect(await statusOf(fetch(`${server.url}/metrics`, { headers: from('203.0.113.9') }))).toBe(401);
    // A direct local request (no proxy header) is still local.
    for (let i = 0; i < 3; i++) expect(await statusOf(server.api('/api/status'))).toBe(200);
  });
});

describe('clientAddressResolver', () => {
  const req = (peer: string, xff?: string) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as never;
  it('believes X-Forwarded-For only from a loopback peer, right-most non-loopback hop first', () => {
    const on = clientAddressResolver(true);
    expect(on(req('127.0.0.1', '198.51.100.1, 203.0.113.7'))).toBe('203.0.113.7');
    expect(on(req('::1', '203.0.113.7, 127.0.0.1'))).toBe('203.0.113.7');
    expect(on(req('127.0.0.1', '127.0.0.2'))).toBe('127.0.0.2');
    expect(on(req('127.0.0.1'))).toBe('127.0.0.1');
    expect(on(req('192.0.2.5', '127.0.0.1'))).toBe('192.0.2.5');
    expect(clientAddressResolver(false)(req('127.0.0.1', '203.0.113.7'))).toBe('127.0.0.1');
  });
});
