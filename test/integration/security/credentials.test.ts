import { afterEach, describe, expect, it } from 'vitest';
import type { TestServer } from '../../fixtures/test-server.js';
import { connected, disconnected, errorCode, refusalOf, tracker } from './helpers.js';

const t = tracker();
afterEach(() => t.cleanup());

const bearer = (token: string): Record<string, string> => ({ Authorization: `Bearer ${token}` });

async function createToken(s: TestServer, name: string, scope: 'user' | 'admin'): Promise<{ id: string; name: string; scope: string; token: string }> {
  const res = await s.api('/api/tokens', { method: 'POST', json: { name, scope } });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; name: string; scope: string; token: string };
}

/** Pairs like a browser would: a fresh code from the admin API, then GET /pair; returns the cookie pair. */
async function pairBrowser(s: TestServer, userAgent = 'test-browser/1.0'): Promise<string> {
  const made = await s.api('/api/pairing-codes', { method: 'POST', json: {} });
  expect(made.status).toBe(201);
  const { path } = (await made.json()) as { path: string };
  const res = await fetch(`${s.url}${path}`, { redirect: 'manual', headers: { 'User-Agent': userAgent } });
  expect(res.status).toBe(303);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
}

describe('named tokens', () => {
  it('are created once with their secret, listed without it, stored only as a hash, and work as bearer tokens', async () => {
    const s = await t.server({ provider: false });
    const created = await createToken(s, 'ci script', 'user');
    expect(created).toMatchObject({ id: expect.any(String), name: 'ci script', scope: 'user', token: expect.any(String) });
    const use = await fetch(`${s.url}/api/conversations`, { headers: bearer(created.token) });
    expect(use.status).toBe(200);

    const list = await s.api('/api/tokens');
    const body = (await list.json()) as { items: Array<Record<string, unknown>> };
    expect(body.items).toHaveLength(1);
    expect(body.items[0]).toEqual({ id: created.id, name: 'ci script', scope: 'user', createdAt: expect.any(String), lastUsedAt: expect.any(String) });
    expect(JSON.stringify(body)).not.toContain(created.token);

    // At rest: the database holds a SHA-256, never the token.
    const { createHash } = await import('node:crypto');
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(`${s.dataDir}/app.db`, { readonly: true });
    try {
      const rows = db.prepare('SELECT * FROM api_tokens').all();
      expect(JSON.stringify(rows)).not.toContain(created.token);
      expect(rows).toEqual([expect.objectContaining({ token_hash: createHash('sha256').update(created.token).digest('hex') })]);
    } finally {
      db.close();
    }
  });

  it('refuse bad bodies with 400 naming the field', async () => {
    const s = await t.server({ provider: false });
    const res = await s.api('/api/tokens', { method: 'POST', json: { name: 'x', scope: 'root' } });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('invalid-request');
    const nul = await s.api('/api/tokens', { method: 'POST', json: { name: 'a\u0000b', scope: 'user' } });
    expect(nul.status).toBe(400);
  });

  it('revoking one answers 401 on its next request and disconnects its live sockets, not the others', async () => {
    const s = await t.server({ provider: false });
    const victim = await createToken(s, 'laptop', 'user');
    const bystander = await createToken(s, 'desktop', 'user');
    const c = t.client(s.server.wsUrl, { token: victim.token });
    const other = t.client(s.server.wsUrl, { token: bystander.token });
    await Promise.all([connected(c), connected(other)]);
    let revoking = false;
    // The server disconnected it ("io server disconnect", not a dropped transport), after the revoke
    // was sent: nothing else made it leave first.
    const gone = disconnected(c, "the revoked token's socket").then((reason) => ({ reason, afterRevoke: revoking }));

    revoking = true;
    const del = await s.api(`/api/tokens/${victim.id}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(await gone).toEqual({ reason: 'io server disconnect', afterRevoke: true });

    const next = await fetch(`${s.url}/api/conversations`, { headers: bearer(victim.token) });
    expect(next.status).toBe(401);
    expect(await errorCode(next)).toBe('invalid-token');
    expect(other.connected).toBe(true);
    expect((await fetch(`${s.url}/api/conversations`, { headers: bearer(bystander.token) })).status).toBe(200);
    // Reconnecting with the revoked token is refused too.
    expect(await refusalOf(t.client(s.server.wsUrl, { token: victim.token }))).toBe('invalid-token');
    // Deleting again: it is gone.
    expect((await s.api(`/api/tokens/${victim.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('survive a restart of the server on the same data directory', async () => {
    const first = await t.server({ provider: false });
    const created = await createToken(first, 'persisted', 'admin');
    const dataDir = first.dataDir;
    await first.server.close();
    const again = await t.server({ provider: false, dataDir });
    expect((await fetch(`${again.url}/api/tokens`, { headers: bearer(created.token) })).status).toBe(200);
  });
});

describe('scopes', () => {
  it.each(['/api/tokens', '/api/sessions', '/api/settings', '/api/settings/provider', '/api/pairing-codes', '/api/TOKENS', '/api//sessions'])(
    'a user credential gets 403 forbidden on %s',
    async (path) => {
      const s = await t.server({ provider: false });
      const user = await createToken(s, 'user', 'user');
      for (const method of ['GET', 'POST', 'PATCH', 'DELETE']) {
        const res = await fetch(`${s.url}${path}`, { method, headers: { ...bearer(user.token), 'Content-Type': 'application/json' }, body: method === 'GET' ? null : '{}' });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(await errorCode(res)).toBe('forbidden');
      }
    },
  );

  it('a user credential chats and reads conversations; an admin named token manages tokens', async () => {
    const s = await t.server({ provider: { tokens: 3 } });
    const user = await createToken(s, 'user', 'user');
    const chat = await fetch(`${s.url}/api/chat`, { method: 'POST', headers: { ...bearer(user.token), 'Content-Type': 'application/json' }, body: JSON.stringify({ message: 'hi' }) });
    expect(chat.status).toBe(200);
    const { conversationId } = (await chat.json()) as { conversationId: string };
    expect((await fetch(`${s.url}/api/conversations/${conversationId}`, { headers: bearer(user.token) })).status).toBe(200);
    const admin = await createToken(s, 'admin', 'admin');
    expect((await fetch(`${s.url}/api/tokens`, { headers: bearer(admin.token) })).status).toBe(200);
  });
});

describe('browser sessions', () => {
  it('are listed with the current one marked, and revoking one cuts its requests and sockets', async () => {
    const s = await t.server({ provider: false });
    const cookieA = await pairBrowser(s, 'Browser A');
    const cookieB = await pairBrowser(s, 'Browser B');
    const list = await fetch(`${s.url}/api/sessions`, { headers: { Cookie: cookieA } });
    expect(list.status).toBe(200);
    const { items } = (await list.json()) as { items: Array<{ id: string; label: string; current: boolean; address: string | null; createdAt: string; lastSeenAt: string | null }> };
    expect(items.map((i) => i.label).sort()).toEqual(['Browser A', 'Browser B']);
    const a = items.find((i) => i.label === 'Browser A');
    const b = items.find((i) => i.label === 'Browser B');
    expect(a).toMatchObject({ current: true, address: expect.any(String), createdAt: expect.any(String), lastSeenAt: expect.any(String) });
    expect(b?.current).toBe(false);

    const socket = t.client(s.server.wsUrl, { headers: { Cookie: cookieB } });
    await connected(socket);
    let revoking = false;
    const gone = disconnected(socket, "the revoked session's socket").then((reason) => ({ reason, afterRevoke: revoking }));
    revoking = true;
    expect((await s.api(`/api/sessions/${b?.id ?? ''}`, { method: 'DELETE' })).status).toBe(204);
    expect(await gone).toEqual({ reason: 'io server disconnect', afterRevoke: true });
    expect((await fetch(`${s.url}/api/status`, { headers: { Cookie: cookieB } })).status).toBe(401);
    expect((await fetch(`${s.url}/api/status`, { headers: { Cookie: cookieA } })).status).toBe(200);
  });
});

describe('pairing codes', () => {
  it('pair once: 303 to / with a strict HttpOnly cookie; the same code again is 410 and makes no session', async () => {
    const s = await t.server({ provider: false });
    const { path } = (await (await s.api('/api/pairing-codes', { method: 'POST', json: {} })).json()) as { path: string };
    const first = await fetch(`${s.url}${path}`, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/');
    const cookie = first.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^orchestra_token=[A-Za-z0-9_-]{40,};/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Secure/); // plain HTTP here; TLS adds Secure
    expect(cookie).not.toContain(s.token);

    const second = await fetch(`${s.url}${path}`, { redirect: 'manual' });
    expect(second.status).toBe(410);
    expect(second.headers.get('set-cookie')).toBeNull();
    expect(second.headers.get('content-type')).toMatch(/text\/html/);
    expect(second.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await second.text()).toMatch(/already used/);
    const sessions = (await (await s.api('/api/sessions')).json()) as { items: unknown[] };
    expect(sessions.items).toHaveLength(1);
  });

  it('an unknown code is 401, and the old ?token= link no longer pairs with the long-lived token', async () => {
    const s = await t.server({ provider: false });
    const unknown = await fetch(`${s.url}/pair?code=not-a-real-code`, { redirect: 'manual' });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('set-cookie')).toBeNull();
    expect(await unknown.text()).toMatch(/not valid/);
    const old = await fetch(`${s.url}/pair?token=${encodeURIComponent(s.token)}`, { redirect: 'manual' });
    expect(old.status).toBe(401);
    expect(old.headers.get('set-cookie')).toBeNull();
    // and a cookie holding the owner token is not a session: refused, and cleared
    const stale = await fetch(`${s.url}/api/status`, { headers: { Cookie: `orchestra_token=${s.token}` } });
    expect(stale.status).toBe(401);
    expect(stale.headers.get('set-cookie')).toMatch(/^orchestra_token=; .*Max-Age=0/);
  });

  it('expires after 10 minutes (410), on a clock the test moves', async () => {
    let now = Date.now();
    const s = await t.server({ provider: false, start: { now: () => now } });
    const fresh = (await (await s.api('/api/pairing-codes', { method: 'POST', json: {} })).json()) as { path: string; expiresAt: string };
    const late = (await (await s.api('/api/pairing-codes', { method: 'POST', json: {} })).json()) as { path: string; expiresAt: string };
    expect(Date.parse(late.expiresAt) - now).toBe(10 * 60_000);
    now += 9 * 60_000 + 59_000;
    expect((await fetch(`${s.url}${fresh.path}`, { redirect: 'manual' })).status).toBe(303);
    now += 2_000;
    const expired = await fetch(`${s.url}${late.path}`, { redirect: 'manual' });
    expect(expired.status).toBe(410);
    expect(expired.headers.get('set-cookie')).toBeNull();
    expect(await expired.text()).toMatch(/expired/);
  });

  it('a user-scoped code pairs a browser that cannot reach admin routes', async () => {
    const s = await t.server({ provider: false });
    const { path } = (await (await s.api('/api/pairing-codes', { method: 'POST', json: { scope: 'user', label: 'kiosk' } })).json()) as { path: string };
    const res = await fetch(`${s.url}${path}`, { redirect: 'manual' });
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect((await fetch(`${s.url}/api/conversations`, { headers: { Cookie: cookie } })).status).toBe(200);
    expect((await fetch(`${s.url}/api/sessions`, { headers: { Cookie: cookie } })).status).toBe(403);
  });
});

describe('lock-out', () => {
  it('20 failed credentials in a minute: 429 with Retry-After on HTTP, /pair and the handshake, even with the right token', async () => {
    let now = Date.now();
    const s = await t.server({ provider: false, start: { now: () => now } });
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${s.url}/api/status`, { headers: bearer(`wrong-${i}-${'x'.repeat(30)}`) });
      expect(res.status).toBe(401);
    }
    const locked = await s.api('/api/status');
    expect(locked.status).toBe(429);
    expect(await errorCode(locked)).toBe('rate-limited');
    const retry = Number(locked.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    const pair = await fetch(`${s.url}/pair?code=whatever`, { redirect: 'manual' });
    expect(pair.status).toBe(429);
    expect(pair.headers.get('retry-after')).not.toBeNull();
    expect(await refusalOf(t.client(s.server.wsUrl, { token: s.token }))).toBe('rate-limited');
    // The window passes: the right token works again.
    now += 61_000;
    expect((await s.api('/api/status')).status).toBe(200);
  });

  it('counts wrong pairing codes too', async () => {
    const s = await t.server({ provider: false });
    for (let i = 0; i < 20; i++) expect((await fetch(`${s.url}/pair?code=guess-${i}`, { redirect: 'manual' })).status).toBe(401);
    expect((await fetch(`${s.url}/pair?code=guess-21`, { redirect: 'manual' })).status).toBe(429);
  });
});

describe('the desktop window', () => {
  it('pairs through a one-time code asked with the owner token, never a link carrying the token', async () => {
    const { pairingUrl } = await import('../../../main/backend-host.js');
    const s = await t.server({ provider: false });
    const link = await pairingUrl({ url: s.url, token: s.token });
    expect(link).toMatch(/\/pair\?code=/);
    expect(link).not.toContain(s.token);
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(303);
    await expect(pairingUrl({ url: s.url, token: 'not-the-owner-token-at-all' })).rejects.toThrow(/refused a pairing code \(401\)/);
  });
});

describe('idle browser sessions', () => {
  it('a session unused for 30 days is refused', async () => {
    let now = Date.now();
    const s = await t.server({ provider: false, start: { now: () => now } });
    const cookie = await pairBrowser(s);
    expect((await fetch(`${s.url}/api/status`, { headers: { Cookie: cookie } })).status).toBe(200);
    now += 29 * 24 * 3600_000;
    expect((await fetch(`${s.url}/api/status`, { headers: { Cookie: cookie } })).status).toBe(200);
    now += 30 * 24 * 3600_000 + 1000;
    expect((await fetch(`${s.url}/api/status`, { headers: { Cookie: cookie } })).status).toBe(401);
  });
});
