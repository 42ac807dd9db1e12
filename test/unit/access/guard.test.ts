/**
 * The HTTP side of access over real HTTP: the guard every /api route sits behind (401, 403, 429,
 * the stale cookie cleared), the admin-only credential routes and the one-time pairing link. The
 * app here is the guard, the routes and an error handler shaped like the server's; the service
 * behind them uses a real SQLite credential store.
 */
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { rmSync } from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AccessService } from '../../../backend/access/access-service.js';
import { LOCKOUT_FAILURES, Lockout, retryAfterOf } from '../../../backend/access/lockout.js';
import { principalOf } from '../../../backend/access/principal.js';
import type { MinuteWindows } from '../../../backend/access/windows.js';
import { errorBody } from '../../../backend/contract/errors.js';
import { KyselyCredentialStore } from '../../../backend/data/credentials.js';
import { migrate } from '../../../backend/data/migrate.js';
import { openSqlite } from '../../../backend/data/sqlite.js';
import { DomainError } from '../../../backend/errors.js';
import { ADMIN_PREFIXES, SESSION_COOKIE, accessGuard, accessRoutes, isAdminPath, pairingRoute, presentedCredential, requireAdmin } from '../../../backend/http/access.js';
import { httpStatusOf } from '../../../backend/http/errors.js';
import { CONTENT_SECURITY_POLICY } from '../../../backend/http/security.js';
import { tempDir } from '../../fixtures/test-server.js';

const OWNER_TOKEN = 'guard-owner-token-0123456789';

let base: string;
let server: http.Server;
let access: AccessService;
let lockout: Lockout;
let close: () => Promise<void>;

beforeAll(async () => {
  const dir = tempDir();
  const { db } = openSqlite(path.join(dir, 'app.db'));
  await migrate(db);
  access = new AccessService({ ownerToken: OWNER_TOKEN, store: new KyselyCredentialStore(db), logger: pino({ level: 'silent' }) });
  lockout = new Lockout();
  // The routes hold this forwarder, so a test can start from a fresh lock-out.
  const current = { check: (s: string | undefined) => lockout.check(s), fail: (s: string | undefined) => lockout.fail(s) } as unknown as Lockout;
  const app = express();
  app.get('/pair', pairingRoute(access, current));
  const api = express.Router();
  api.use(accessGuard(access, current));
  api.use(express.json());
  api.get('/whoami', (req: Request, res: Response) => {
    res.json(principalOf(req) ?? null);
  });
  api.get('/settings/deep', (_req: Request, res: Response) => {
    res.json({ ok: true });
  });
  api.use(accessRoutes(access));
  app.use('/api', api);
  // The route-level check on its own (no guard before it): nobody is an admin there.
  app.get('/unguarded-admin', requireAdmin, (_req: Request, res: Response) => {
    res.json({ ok: true });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (!(err instanceof DomainError)) {
      res.status(500).json({ error: { code: 'internal-error', message: String(err) } });
      return;
    }
    const retryAfter = retryAfterOf(err);
    if (retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter));
    res.status(httpStatusOf(err)).json(errorBody(err));
  });
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
});

afterAll(async () => {
  await close();
});

beforeEach(() => {
  lockout = new Lockout();
});

interface Reply {
  status: number;
  headers: Headers;
  body: { error?: { code: string; message: string }; [k: string]: unknown } | undefined;
  text: string;
}

async function call(method: string, route: string, options: { token?: string; cookie?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie !== undefined) headers.cookie = options.cookie;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${route}`, { method, headers, redirect: 'manual', ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  const text = await res.text();
  let body: Reply['body'];
  try {
    body = JSON.parse(text) as Reply['body'];
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

describe('isAdminPath and presentedCredential', () => {
  it('matches the admin prefixes the way Express routes do', () => {
    expect(ADMIN_PREFIXES).toEqual(['/api/tokens', '/api/sessions', '/api/settings', '/api/pairing-codes']);
    for (const p of ['/api/tokens', '/api/tokens/', '/api/TOKENS/abc', '/api//sessions', '/api/settings/x/y', '/api/pairing-codes']) expect(isAdminPath(p), p).toBe(true);
    for (const p of ['/api/tokensx', '/api/status', '/api', '/tokens', '/api/chat']) expect(isAdminPath(p), p).toBe(false);
  });

  it('takes a bearer token first, else the session cookie; blanks are no credential', () => {
    expect(presentedCredential({ authorization: 'Bearer  abc ', cookie: `${SESSION_COOKIE}=s` })).toEqual({ via: 'bearer', secret: 'abc' });
    expect(presentedCredential({ authorization: 'Bearer   ' })).toBeUndefined();
    expect(presentedCredential({ authorization: 'Basic abc', cookie: `a=1; ${SESSION_COOKIE}=sess` })).toEqual({ via: 'cookie', secret: 'sess' });
    expect(presentedCredential({ cookie: `${SESSION_COOKIE}=` })).toBeUndefined();
    expect(presentedCredential({ cookie: 'other=1' })).toBeUndefined();
    expect(presentedCredential({})).toBeUndefined();
    expect(SESSION_COOKIE).toBe('orchestra_token');
  });
});

describe('accessGuard', () => {
  it('401 unauthorized without a credential, 401 invalid-token with a bad one', async () => {
    const none = await call('GET', '/api/whoami');
    expect(none.status).toBe(401);
    expect(none.body?.error).toEqual({
      code: 'unauthorized',
      message: 'this route needs a credential: send "Authorization: Bearer <token>" or pair this browser with a pairing link',
    });
    const bad = await call('GET', '/api/whoami', { token: 'wrong-token' });
    expect(bad.status).toBe(401);
    expect(bad.body?.error).toEqual({ code: 'invalid-token', message: 'the credential is not valid (unknown, revoked or expired)' });
    expect(bad.headers.get('set-cookie')).toBeNull();
  });

  it('attaches the principal: the owner token is the owner', async () => {
    const me = await call('GET', '/api/whoami', { token: OWNER_TOKEN });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ kind: 'owner', id: 'owner', name: 'owner', scope: 'admin' });
  });

  it('a user-scope token may use the API but no admin path (403)', async () => {
    const { token } = await access.createToken('reader', 'user');
    expect((await call('GET', '/api/whoami', { token })).body).toMatchObject({ kind: 'token', name: 'reader', scope: 'user' });
    const denied = await call('GET', '/api/settings/deep', { token });
    expect(denied.status).toBe(403);
    expect(denied.body?.error).toEqual({ code: 'forbidden', message: 'this route needs an admin credential' });
    expect((await call('GET', '/api/SETTINGS/deep?x=1', { token })).status).toBe(403);
    // Also when the router itself is reached another way: the route-level check holds.
    expect((await call('GET', '/api/tokens', { token })).status).toBe(403);
    const { token: admin } = await access.createToken('ops', 'admin');
    expect((await call('GET', '/api/settings/deep', { token: admin })).body).toEqual({ ok: true });
  });

  it('requireAdmin refuses a request no guard has seen', async () => {
    const res = await call('GET', '/unguarded-admin', { token: OWNER_TOKEN });
    expect(res.status).toBe(403);
  });

  it('clears a stale session cookie, but not for a bad bearer token', async () => {
    const res = await call('GET', '/api/whoami', { cookie: `${SESSION_COOKIE}=stale-session` });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBe(`${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
  });

  it(`locks a source out after ${LOCKOUT_FAILURES} bad credentials, the right one included`, async () => {
    for (let i = 0; i < LOCKOUT_FAILURES - 1; i++) expect((await call('GET', '/api/whoami', { token: `bad-${i}` })).status).toBe(401);
    expect((await call('GET', '/api/whoami', { token: OWNER_TOKEN })).status).toBe(200);
    expect((await call('GET', '/api/whoami', { token: 'bad-last' })).status).toBe(401);
    const locked = await call('GET', '/api/whoami', { token: OWNER_TOKEN });
    expect(locked.status).toBe(429);
    expect(locked.body?.error?.code).toBe('rate-limited');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    const pairing = await call('GET', '/pair?code=whatever');
    expect(pairing.status).toBe(429); // the pairing link is refused too, before the code is looked at
    lockout = new Lockout();
    expect((await call('GET', '/api/whoami', { token: OWNER_TOKEN })).status).toBe(200);
  });

  it('passes a failing credential lookup on to the error handler', async () => {
    const original = access.authenticate.bind(access);
    access.authenticate = () => Promise.reject(new DomainError('unavailable', 'provider-unavailable', 'store down'));
    try {
      const res = await call('GET', '/api/whoami', { token: 'orc_some-token' });
      expect(res.status).toBe(503);
      expect(res.body?.error?.message).toBe('store down');
    } finally {
      access.authenticate = original;
    }
  });
});

describe('credential routes', () => {
  it('creates, lists and revokes named tokens', async () => {
    const created = await call('POST', '/api/tokens', { token: OWNER_TOKEN, body: { name: '  deploy  ', scope: 'user' } });
    expect(created.status).toBe(201);
    expect(Object.keys(created.body ?? {}).sort()).toEqual(['createdAt', 'id', 'name', 'scope', 'token']);
    expect(created.body).toMatchObject({ name: 'deploy', scope: 'user' });
    const id = created.body?.id as string;
    const list = await call('GET', '/api/tokens', { token: OWNER_TOKEN });
    expect((list.body?.items as Array<{ id: string }>).map((t) => t.id)).toContain(id);
    expect((await call('GET', '/api/whoami', { token: created.body?.token as string })).status).toBe(200);
    expect((await call('DELETE', `/api/tokens/${id}`, { token: OWNER_TOKEN })).status).toBe(204);
    expect((await call('DELETE', `/api/tokens/${id}`, { token: OWNER_TOKEN })).status).toBe(404);
    expect((await call('GET', '/api/whoami', { token: created.body?.token as string })).status).toBe(401);
  });

  it('refuses bad token bodies and ids, naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ name: '', scope: 'user' }, 'name: name must not be empty'],
      [{ name: '   ', scope: 'user' }, 'name: name must not be empty'],
      [{ name: 'x'.repeat(101), scope: 'user' }, 'name: name must be at most 100 characters'],
      [{ name: 'a\u0000b', scope: 'user' }, 'name: name must not contain NUL characters'],
      [{ name: 5, scope: 'user' }, 'name: name must be a string'],
      [{ name: 'x', scope: 'root' }, 'scope: scope must be "user" or "admin"'],
      [{ name: 'x', scope: 'user', extra: 1 }, ''],
    ];
    for (const [body, message] of cases) {
      const res = await call('POST', '/api/tokens', { token: OWNER_TOKEN, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      if (message !== '') expect(res.body?.error?.message).toBe(message);
    }
    expect((await call('POST', '/api/tokens', { token: OWNER_TOKEN, body: { name: 'x'.repeat(100), scope: 'admin' } })).status).toBe(201);
    const badId = await call('DELETE', '/api/tokens/not-an-id', { token: OWNER_TOKEN });
    expect(badId.status).toBe(404);
    expect(badId.body?.error?.message).toBe('token not-an-id does not exist');
    const badSession = await call('DELETE', '/api/sessions/not-an-id', { token: OWNER_TOKEN });
    expect(badSession.body?.error?.message).toBe('session not-an-id does not exist');
  });

  it('makes pairing links, pairs a browser once, lists and revokes its session', async () => {
    const made = await call('POST', '/api/pairing-codes', { token: OWNER_TOKEN, body: { scope: 'user', label: 'tablet' } });
    expect(made.status).toBe(201);
    const code = made.body?.code as string;
    expect(made.body?.path).toBe(`/pair?code=${encodeURIComponent(code)}`);
    expect(Date.parse(made.body?.expiresAt as string)).toBeGreaterThan(Date.now());

    const paired = await call('GET', made.body?.path as string, {});
    expect(paired.status).toBe(303);
    expect(paired.headers.get('location')).toBe('/');
    expect(paired.headers.get('cache-control')).toBe('no-store');
    const setCookie = paired.headers.get('set-cookie') as string;
    expect(setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000$`));
    const cookie = setCookie.split(';')[0] as string;
    expect((await call('GET', '/api/whoami', { cookie })).body).toMatchObject({ kind: 'session', name: 'tablet', scope: 'user' });

    const sessions = await call('GET', '/api/sessions', { token: OWNER_TOKEN });
    const mine = (sessions.body?.items as Array<{ id: string; label: string; current: boolean; address: string }>).find((s) => s.label === 'tablet');
    expect(mine).toMatchObject({ current: false, address: '127.0.0.1' });
    expect((await call('DELETE', `/api/sessions/${mine?.id}`, { token: OWNER_TOKEN })).status).toBe(204);
    expect((await call('GET', '/api/whoami', { cookie })).status).toBe(401);

    const again = await call('GET', made.body?.path as string);
    expect(again.status).toBe(410);
    expect(again.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(again.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(again.headers.get('cache-control')).toBe('no-store');
    expect(again.headers.get('set-cookie')).toBeNull();
    expect(again.text).toContain('<title>This pairing link was already used</title>');
    expect(again.text).toContain('<h1>This pairing link was already used</h1>');
    expect(again.text).toContain('<p>A pairing link works once.');
  });

  it('labels a session from the User-Agent, printable characters only, or "browser"', async () => {
    const label = async (ua: string | undefined): Promise<string> => {
      const made = await call('POST', '/api/pairing-codes', { token: OWNER_TOKEN });
      // node:http, unlike fetch, sends exactly the headers given (none, or one with a tab in it).
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${base}${made.body?.path as string}`, { headers: ua === undefined ? {} : { 'user-agent': ua } }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
      });
      const items = (await call('GET', '/api/sessions', { token: OWNER_TOKEN })).body?.items as Array<{ label: string }>;
      return items[items.length - 1]?.label as string;
    };
    expect(await label('Mozilla/5.0\t(X11)')).toBe('Mozilla/5.0(X11)');
    expect(await label('x'.repeat(130))).toBe('x'.repeat(120));
    expect(await label('  padded  ')).toBe('padded');
    expect(await label(undefined)).toBe('browser');
  });

  it('pairing code bodies: optional, admin by default, checked', async () => {
    const plain = await call('POST', '/api/pairing-codes', { token: OWNER_TOKEN });
    expect(plain.status).toBe(201);
    const pairedCookie = (await call('GET', plain.body?.path as string)).headers.get('set-cookie')?.split(';')[0] as string;
    expect((await call('GET', '/api/whoami', { cookie: pairedCookie })).body).toMatchObject({ scope: 'admin' });
    const bad = await call('POST', '/api/pairing-codes', { token: OWNER_TOKEN, body: { scope: 'root' } });
    expect(bad.status).toBe(400);
    expect((await call('POST', '/api/pairing-codes', { token: OWNER_TOKEN, body: { label: '' } })).status).toBe(400);
  });

  it('an unknown or missing code is a 401 page, an expired one a 410 page; failures count toward the lock-out', async () => {
    const unknown = await call('GET', '/pair?code=%3Cscript%3E');
    expect(unknown.status).toBe(401);
    expect(unknown.text).toContain('This pairing link is not valid');
    expect(unknown.text).toContain('Pairing links now carry a one-time code (…/pair?code=…); links with the API token no longer pair a browser.');
    expect(unknown.text).not.toContain('<script>');
    expect(unknown.text).toContain('<code>orchestra pair</code>');
    expect((await call('GET', '/pair')).status).toBe(401);
    expect((await call('GET', '/pair?code=a&code=b')).status).toBe(401);

    const expired = new AccessService({
      ownerToken: OWNER_TOKEN,
      store: (access as unknown as { store: KyselyCredentialStore }).store,
      logger: pino({ level: 'silent' }),
      now: () => Date.now() - 11 * 60_000,
    });
    const { code } = await expired.createPairingCode();
    const page = await call('GET', `/pair?code=${code}`);
    expect(page.status).toBe(410);
    expect(page.text).toContain('<h1>This pairing link has expired</h1>');
    expect(page.text).toContain('A pairing link works for 10 minutes after it is made. This one is older.');
    const failures = (lockout as unknown as { failures: MinuteWindows }).failures.peek('127.0.0.1').count;
    expect(failures).toBe(4);
  });
});
