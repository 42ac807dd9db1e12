import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../fixtures/test-server.js';
import { rawRequest, refusalOf, tracker } from './helpers.js';

/**
 * A cookie with a bad percent-encoding used to throw URIError inside Socket.IO's `io.use` (the
 * process exited) and give 500 over HTTP; no credential was needed. Nothing malformed in a cookie,
 * a credential header or an Origin may crash the server or earn a 5xx.
 */
const t = tracker();
let s: TestServer;
beforeAll(async () => {
  s = await t.server({ provider: false });
});
afterAll(() => t.cleanup());

const BAD_COOKIES = [
  'orchestra_token=%',
  'orchestra_token=%E0%A4%A',
  'orchestra_token=%zz; other=1',
  'orchestra_token="%"',
  'a=%; orchestra_token=%',
  'orchestra_token',
  '=;=;;;orchestra_token==%%',
  `orchestra_token=${'%'.repeat(5000)}`,
  `orchestra_token=${'x'.repeat(8000)}`,
];

async function alive(): Promise<void> {
  const res = await fetch(`${s.url}/healthz`);
  expect(res.status).toBe(200);
}

describe('a bad percent-encoding in the session cookie', () => {
  it('is a 401 over HTTP, not a 500', async () => {
    const res = await fetch(`${s.url}/api/status`, { headers: { Cookie: 'orchestra_token=%' } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid-token');
  });

  it.each(['websocket', 'polling'] as const)('is refused on a %s handshake and the server keeps running', async (transport) => {
    const c = t.client(s.server.wsUrl, { transport, headers: { Cookie: 'orchestra_token=%' } });
    expect(await refusalOf(c)).toMatch(/invalid-token|rate-limited/);
    await alive();
  });
});

describe('fuzz: malformed cookies, credentials and origins', () => {
  // A tiny deterministic generator, so a failure reproduces.
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pieces = ['%', '%2', '%E0', '%ZZ', '%%', ';', '=', '"', ',', ' ', 'orchestra_token', 'Bearer', '\u00e9', '\\', 'x', '0'];
  const junk = (len: number): string => Array.from({ length: len }, () => pieces[rand(pieces.length)]).join('');

  it('300 HTTP requests: never a 5xx, and the server answers after', async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const headers: Record<string, string> = {};
      const which = i % 5;
      if (which === 0) headers.Cookie = BAD_COOKIES[i % BAD_COOKIES.length] ?? '';
      else if (which === 1) headers.Cookie = `orchestra_token=${junk(1 + rand(12))}`;
      else if (which === 2) headers.Authorization = `Bearer ${junk(1 + rand(12))}`;
      else if (which === 3) headers.Origin = junk(1 + rand(6));
      else headers.Cookie = junk(1 + rand(20));
      // Non-ASCII goes out as latin1 bytes, which Node accepts and the parser must survive.
      const path = ['/api/status', '/api/conversations', '/pair?code=' + junk(3), '/api/tokens', '/metrics'][i % 5] ?? '/';
      const res = await rawRequest(s.url, { path: encodeURI(path).replace(/%25/g, '%'), headers });
      statuses.add(res.status);
      expect(res.status, `${path} ${JSON.stringify(headers)}`).toBeLessThan(500);
    }
    expect([...statuses].some((x) => x === 401 || x === 429)).toBe(true);
    await alive();
  });

  it.each(['websocket', 'polling'] as const)('60 %s handshakes with malformed cookies: all refused, the server keeps running', async (transport) => {
    for (let i = 0; i < 60; i++) {
      const cookie = i < BAD_COOKIES.length ? (BAD_COOKIES[i] ?? '') : `orchestra_token=${junk(1 + rand(10))}`;
      const c = t.client(s.server.wsUrl, { transport, headers: { Cookie: cookie } });
      expect(await refusalOf(c)).not.toBe('connected');
      c.disconnect();
    }
    await alive();
  });
});
