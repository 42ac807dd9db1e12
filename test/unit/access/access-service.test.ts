/**
 * The access service against a real SQLite credential store: which credential speaks for whom,
 * how long an answer is trusted from memory, what a revocation does, and what pairing codes and
 * sessions come to. The clock is the service's own `now`, moved by the tests.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessService, PAIRING_CODE_TTL_MS, SESSION_IDLE_MS, type Presented } from '../../../backend/access/access-service.js';
import { OWNER, type Principal } from '../../../backend/access/principal.js';
import { hashSecret } from '../../../backend/access/secrets.js';
import { KyselyCredentialStore, type CredentialStore } from '../../../backend/data/credentials.js';
import { newId } from '../../../backend/data/ids.js';
import { migrate } from '../../../backend/data/migrate.js';
import { openSqlite, type OpenedSqlite } from '../../../backend/data/sqlite.js';
import { DomainError } from '../../../backend/errors.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';
import { tempDir } from '../../fixtures/test-server.js';

const OWNER_TOKEN = 'owner-token-0123456789abcdef';
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Harness {
  access: AccessService;
  store: CredentialStore;
  clock: { t: number };
  logs: Array<Record<string, unknown>>;
  db: OpenedSqlite['db'];
}

async function harness(wrap: (store: CredentialStore) => CredentialStore = (s) => s): Promise<Harness> {
  const dir = tempDir();
  const { db } = openSqlite(path.join(dir, 'app.db'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => db.destroy());
  await migrate(db);
  const store = wrap(new KyselyCredentialStore(db));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const clock = { t: T0 };
  const access = new AccessService({ ownerToken: OWNER_TOKEN, store, logger: pino({ level: 'debug' }, sink), now: () => clock.t });
  return { access, store, clock, logs, db };
}

const bearer = (secret: string): Presented => ({ via: 'bearer', secret });
const cookie = (secret: string): Presented => ({ via: 'cookie', secret });

async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Pairs a browser through a pairing code and returns its session secret. */
async function pair(h: Harness, label = 'Firefox', address = '10.0.0.7'): Promise<string> {
  const { code } = await h.access.createPairingCode('admin');
  const { outcome, secret } = await h.access.redeemPairingCode(code, label, address);
  expect(outcome).toBe('paired');
  return secret as string;
}

describe('AccessService.authenticate', () => {
  it('the owner token over bearer is the owner, answered without waiting; over a cookie it is nobody', async () => {
    const { access } = await harness();
    expect(access.authenticate(bearer(OWNER_TOKEN))).toBe(OWNER);
    expect(OWNER).toEqual({ kind: 'owner', id: 'owner', name: 'owner', scope: 'admin' });
    const viaCookie = access.authenticate(cookie(OWNER_TOKEN));
    expect(viaCookie).toBeInstanceOf(Promise);
    expect(await viaCookie).toBeUndefined();
    expect(await access.authenticate(bearer(`${OWNER_TOKEN}x`))).toBeUndefined();
  });

  it('a named token speaks for itself, with its scope; an unknown one for nobody', async () => {
    const { access } = await harness();
    const created = await access.createToken('ci', 'user');
    expect(created.token).toMatch(/^orc_[A-Za-z0-9_-]{43}$/);
    expect(await access.authenticate(bearer(created.token))).toEqual({ kind: 'token', id: created.id, name: 'ci', scope: 'user' });
    expect(await access.authenticate(cookie(created.token))).toBeUndefined();
    expect(await access.authenticate(bearer('orc_unknown'))).toBeUndefined();
  });

  it('refuses anything longer than 200 characters without looking it up', async () => {
    const { access } = await harness();
    expect(access.authenticate(bearer('x'.repeat(201)))).toBeUndefined();
    const exactly200 = access.authenticate(bearer('x'.repeat(200)));
    expect(exactly200).toBeInstanceOf(Promise);
    expect(await exactly200).toBeUndefined();
  });

  it('answers a known credential from memory for 5 s, then asks the store again (revocation elsewhere)', async () => {
    const h = await harness();
    const { access, store, clock } = h;
    const created = await access.createToken('ci', 'admin');
    const principal = await access.authenticate(bearer(created.token));
    expect(principal).toMatchObject({ id: created.id });
    clock.t += 4_999;
    expect(access.authenticate(bearer(created.token))).toEqual(principal);
    // Revoked by another instance sharing the database: this one still trusts its memory...
    expect(await store.revokeToken(created.id)).toBe(true);
    expect(access.authenticate(bearer(created.token))).toEqual(principal);
    expect(access.stillValid(principal as Principal)).toBe(true);
    // ...until the recheck interval is over, counted from the lookup.
    clock.t = T0 + 5_000;
    const again = access.authenticate(bearer(created.token));
    expect(again).toBeInstanceOf(Promise);
    expect(await again).toBeUndefined();
    expect(access.stillValid(principal as Principal)).toBe(false);
    expect(access.authenticate(bearer(created.token))).toBeInstanceOf(Promise);
  });

  it('keeps every credential it knows in memory, not only the last one', async () => {
    const { access } = await harness();
    const a = await access.createToken('a', 'user');
    const b = await access.createToken('b', 'user');
    await access.authenticate(bearer(a.token));
    await access.authenticate(bearer(b.token));
    expect(access.authenticate(bearer(a.token))).toMatchObject({ name: 'a' });
    expect(access.authenticate(bearer(b.token))).toMatchObject({ name: 'b' });
  });

  it('a browser session speaks for its label until it has been idle 30 days', async () => {
    const h = await harness();
    const secret = await pair(h, 'Firefox on the laptop');
    const [session] = await h.access.listSessions(undefined);
    const principal = await h.access.authenticate(cookie(secret));
    expect(principal).toEqual({ kind: 'session', id: session?.id, name: 'Firefox on the laptop', scope: 'admin' });
    // Cookies hold sessions only: the same secret as a bearer token is nobody.
    expect(await h.access.authenticate(bearer(secret))).toBeUndefined();

    const fresh = await harness();
    const s2 = await pair(fresh);
    fresh.clock.t = T0 + SESSION_IDLE_MS - 1;
    expect(await fresh.access.authenticate(cookie(s2))).toMatchObject({ kind: 'session' });

    const idle = await harness();
    const s3 = await pair(idle);
    idle.clock.t = T0 + SESSION_IDLE_MS;
    expect(await idle.access.authenticate(cookie(s3))).toBeUndefined();
  });

  it('counts idleness from the last use, or from creation when never used', async () => {
    const h = await harness();
    const secret = await pair(h);
    const [session] = await h.access.listSessions(undefined);
    const id = session?.id as string;
    // Seen 10 days after pairing: idle counts from there.
    await h.store.touchSession(id, new Date(T0 + 10 * 86_400_000).toISOString(), null);
    h.clock.t = T0 + SESSION_IDLE_MS + 86_400_000;
    expect(await h.access.authenticate(cookie(secret))).toMatchObject({ id });

    // A session row without last_seen_at (written by an older version): its creation time counts.
    const never = await harness();
    const old = 'an-old-session-secret-0123456789';
    await never.db
      .insertInto('browser_sessions')
      .values({ id: newId(), label: 'old', scope: 'user', secret_hash: hashSecret(old), created_at: new Date(T0).toISOString(), last_seen_at: null, address: null })
      .execute();
    never.clock.t = T0 + SESSION_IDLE_MS;
    expect(await never.access.authenticate(cookie(old))).toBeUndefined();
    never.clock.t = T0 + SESSION_IDLE_MS - 1;
    expect(await never.access.authenticate(cookie(old))).toMatchObject({ name: 'old', scope: 'user' });
  });
});

describe('recording use', () => {
  it('writes lastUsedAt on first use and at most once a minute after that', async () => {
    const { access, clock } = await harness();
    const created = await access.createToken('ci', 'user');
    expect((await access.listTokens())[0]?.lastUsedAt).toBeNull();
    await access.authenticate(bearer(created.token));
    const first = new Date(T0).toISOString();
    await until('first use recorded', async () => ((await access.listTokens())[0]?.lastUsedAt === first ? true : undefined));

    clock.t = T0 + 59_999; // past the recheck, so the store is asked again, but within the minute
    await access.authenticate(bearer(created.token));
    const later = await access.createToken('probe', 'user'); // a write after any pending touch
    expect(later.id).toBeDefined();
    expect((await access.listTokens()).find((t) => t.id === created.id)?.lastUsedAt).toBe(first);

    clock.t = T0 + 60_000;
    expect(access.authenticate(bearer(created.token))).toMatchObject({ id: created.id });
    const minuteLater = new Date(T0 + 60_000).toISOString();
    await until('use a minute later recorded', async () =>
      (await access.listTokens()).find((t) => t.id === created.id)?.lastUsedAt === minuteLater ? true : undefined,
    );
  });

  it('records a session use with the address it came from, also when answered from memory', async () => {
    const h = await harness();
    const secret = await pair(h, 'Chrome', '10.0.0.7');
    h.clock.t = T0 + 60_000;
    expect(await h.access.authenticate(cookie(secret), '10.0.0.9')).toMatchObject({ kind: 'session' });
    await until('session use recorded', async () => {
      const [s] = await h.access.listSessions(undefined);
      return s?.address === '10.0.0.9' && s.lastSeenAt === new Date(T0 + 60_000).toISOString() ? s : undefined;
    });
    // Within the recheck interval the answer is from memory, and a use a minute on is still recorded.
    h.clock.t = T0 + 120_000;
    const cachedAgain = await h.access.authenticate(cookie(secret), '10.0.0.10');
    expect(cachedAgain).toMatchObject({ kind: 'session' });
    h.clock.t = T0 + 120_001 + 60_000;
    await h.access.authenticate(cookie(secret));
    // A use whose address is unknown records the time and keeps the last address seen.
    await until('address-less use recorded', async () => {
      const [s] = await h.access.listSessions(undefined);
      return s?.lastSeenAt === new Date(T0 + 120_001 + 60_000).toISOString() ? s : undefined;
    });
    expect((await h.access.listSessions(undefined))[0]?.address).toMatch(/^10\.0\.0\.(9|10)$/);
    h.clock.t += 1_000;
    expect(h.access.authenticate(cookie(secret))).not.toBeInstanceOf(Promise);
    h.clock.t += 60_000;
    expect(h.access.authenticate(cookie(secret))).toBeInstanceOf(Promise);
  });

  it('touches a credential answered from memory once its minute is over', async () => {
    const { access, clock } = await harness();
    const created = await access.createToken('ci', 'user');
    await access.authenticate(bearer(created.token));
    const at = (t: number): string => new Date(t).toISOString();
    await until('first use', async () => ((await access.listTokens())[0]?.lastUsedAt === at(T0) ? true : undefined));
    // A lookup at +59 s caches the credential again; +60 s is answered from memory and must touch.
    clock.t = T0 + 59_000;
    await access.authenticate(bearer(created.token));
    clock.t = T0 + 60_000;
    expect(access.authenticate(bearer(created.token))).not.toBeInstanceOf(Promise);
    await until('use from memory recorded', async () => ((await access.listTokens())[0]?.lastUsedAt === at(T0 + 60_000) ? true : undefined));
  });

  it('a failed use record is logged and does not fail the request', async () => {
    const h = await harness((store) => {
      const broken = Object.create(store) as CredentialStore;
      broken.touchToken = () => Promise.reject(new Error('disk full'));
      return broken;
    });
    const created = await h.access.createToken('ci', 'user');
    expect(await h.access.authenticate(bearer(created.token))).toMatchObject({ name: 'ci' });
    const line = await until('warning', () => Promise.resolve(h.logs.find((l) => l.msg === 'could not record credential use')));
    expect(line).toMatchObject({ level: 40, err: 'disk full', component: 'access' });
  });
});

describe('revocation', () => {
  it('a token revoked here is refused at once and its sockets are told', async () => {
    const h = await harness();
    const created = await h.access.createToken('ci', 'admin');
    const other = await h.access.createToken('other', 'admin');
    const principal = (await h.access.authenticate(bearer(created.token))) as Principal;
    const otherPrincipal = (await h.access.authenticate(bearer(other.token))) as Principal;
    const told: string[] = [];
    h.access.onRevoked((id) => {
      throw new Error(`listener broke on ${id}`);
    });
    h.access.onRevoked((id) => told.push(id));
    const off = h.access.onRevoked((id) => told.push(`removed:${id}`));
    off();

    await h.access.revokeToken(created.id);
    expect(told).toEqual([created.id]);
    expect(h.access.stillValid(principal)).toBe(false);
    expect(h.access.stillValid(otherPrincipal)).toBe(true);
    expect(h.access.stillValid(OWNER)).toBe(true);
    expect(await h.access.authenticate(bearer(created.token))).toBeUndefined();
    expect(h.access.authenticate(bearer(other.token))).toMatchObject({ id: other.id });
    expect(h.logs.find((l) => l.msg === 'revocation listener failed')).toMatchObject({ err: `listener broke on ${created.id}` });
    expect(h.logs.find((l) => l.msg === 'named token revoked')).toMatchObject({ tokenId: created.id });
    expect((await h.access.listTokens()).map((t) => t.id)).toEqual([other.id]);
  });

  it('a credential that was never looked up is not valid for sockets', async () => {
    const { access } = await harness();
    expect(access.stillValid({ kind: 'token', id: 'nope', name: 'x', scope: 'user' })).toBe(false);
  });

  it('revoking forgets when it was last used, so the next use is recorded again', async () => {
    const h = await harness();
    const secret = await pair(h);
    await h.access.authenticate(cookie(secret));
    const [session] = await h.access.listSessions(undefined);
    await h.access.revokeSession(session?.id as string);
    expect(await h.access.listSessions(undefined)).toEqual([]);
    expect(await h.access.authenticate(cookie(secret))).toBeUndefined();
    expect(h.logs.find((l) => l.msg === 'browser session revoked')).toMatchObject({ sessionId: session?.id });
  });

  it('revoking what does not exist is not-found', async () => {
    const { access } = await harness();
    for (const revoke of [() => access.revokeToken('missing'), () => access.revokeSession('missing')]) {
      const err = await revoke().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect(err).toMatchObject({ kind: 'not-found', code: 'not-found' });
    }
  });
});

describe('named tokens', () => {
  it('stores only the hash, and lists what was created', async () => {
    const { access, store, logs } = await harness();
    const created = await access.createToken('deploy', 'admin');
    expect(created).toMatchObject({ name: 'deploy', scope: 'admin', createdAt: new Date(T0).toISOString(), lastUsedAt: null });
    const [record] = await store.listTokens();
    expect(record?.tokenHash).toBe(hashSecret(created.token));
    expect(JSON.stringify(await store.listTokens())).not.toContain(created.token);
    expect(await access.listTokens()).toEqual([{ id: created.id, name: 'deploy', scope: 'admin', createdAt: created.createdAt, lastUsedAt: null }]);
    expect(logs.find((l) => l.msg === 'named token created')).toMatchObject({ tokenId: created.id, name: 'deploy', scope: 'admin' });
    expect(JSON.stringify(logs)).not.toContain(created.token);
  });
});

describe('sessions and pairing', () => {
  it('lists sessions and marks the caller\'s own', async () => {
    const h = await harness();
    const secret = await pair(h, 'Firefox', '10.0.0.7');
    await pair(h, 'Safari', '10.0.0.8');
    const me = (await h.access.authenticate(cookie(secret), '10.0.0.7')) as Principal;
    const list = await h.access.listSessions(me);
    expect(list.map((s) => [s.label, s.current, s.address])).toEqual([
      ['Firefox', true, '10.0.0.7'],
      ['Safari', false, '10.0.0.8'],
    ]);
    expect(list[0]).toMatchObject({ createdAt: new Date(T0).toISOString(), lastSeenAt: new Date(T0).toISOString() });
    // A token with the same id as a session would not be "current": only sessions are.
    expect((await h.access.listSessions({ ...me, kind: 'token' })).some((s) => s.current)).toBe(false);
    expect((await h.access.listSessions(OWNER)).some((s) => s.current)).toBe(false);
  });

  it('a pairing code works once, for 10 minutes, and only its hash is stored', async () => {
    const h = await harness();
    const { code, expiresAt } = await h.access.createPairingCode('user', 'kitchen tablet');
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(expiresAt).toBe(new Date(T0 + PAIRING_CODE_TTL_MS).toISOString());
    expect(PAIRING_CODE_TTL_MS).toBe(600_000);
    const first = await h.access.redeemPairingCode(code, 'Firefox', undefined);
    expect(first.outcome).toBe('paired');
    expect(first.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await h.access.authenticate(cookie(first.secret as string))).toMatchObject({ name: 'kitchen tablet', scope: 'user' });
    const [session] = await h.access.listSessions(undefined);
    expect(session?.address).toBeNull();
    expect(await h.access.redeemPairingCode(code, 'Firefox', undefined)).toEqual({ outcome: 'used' });
    expect(h.logs.find((l) => l.msg === 'browser paired')).toMatchObject({ sessionId: session?.id });

    const late = await h.access.createPairingCode();
    h.clock.t += PAIRING_CODE_TTL_MS;
    expect(await h.access.redeemPairingCode(late.code, 'Firefox', '10.0.0.7')).toEqual({ outcome: 'expired' });
  });

  it('pairs as admin by default, with the browser label', async () => {
    const h = await harness();
    const { code } = await h.access.createPairingCode();
    const { secret } = await h.access.redeemPairingCode(code, 'Edge', '10.1.1.1');
    expect(await h.access.authenticate(cookie(secret as string))).toMatchObject({ name: 'Edge', scope: 'admin' });
  });

  it('refuses empty and oversized codes without a lookup', async () => {
    const h = await harness((store) => {
      const guarded = Object.create(store) as CredentialStore;
      guarded.redeemPairingCode = () => Promise.reject(new Error('looked up'));
      return guarded;
    });
    expect(await h.access.redeemPairingCode('', 'x', undefined)).toEqual({ outcome: 'unknown' });
    expect(await h.access.redeemPairingCode('c'.repeat(201), 'x', undefined)).toEqual({ outcome: 'unknown' });
    await expect(h.access.redeemPairingCode('c'.repeat(200), 'x', undefined)).rejects.toThrow('looked up');
    await expect(h.access.redeemPairingCode('c', 'x', undefined)).rejects.toThrow('looked up');
  });

  it('drops spent codes after a day, and keeps them until then', async () => {
    const h = await harness();
    const pruned: string[] = [];
    const spy = await harness((store) => {
      const watched = Object.create(store) as CredentialStore;
      watched.prunePairingCodes = (before) => {
        pruned.push(before);
        return store.prunePairingCodes(before);
      };
      return watched;
    });
    await spy.access.createPairingCode();
    expect(pruned).toEqual([new Date(T0 - 86_400_000).toISOString()]);

    const old = await h.access.createPairingCode();
    await h.access.redeemPairingCode(old.code, 'x', undefined);
    // A day and a bit later a new code prunes the old one: the late click reads "unknown" now.
    h.clock.t = T0 + PAIRING_CODE_TTL_MS + 86_400_000 + 1;
    await h.access.createPairingCode();
    await until('old code pruned', async () =>
      (await h.access.redeemPairingCode(old.code, 'x', undefined)).outcome === 'unknown' ? true : undefined,
    );
  });

  it('a failed prune does not fail creating a code', async () => {
    const h = await harness((store) => {
      const broken = Object.create(store) as CredentialStore;
      broken.prunePairingCodes = () => Promise.reject(new Error('locked'));
      return broken;
    });
    await expect(h.access.createPairingCode()).resolves.toMatchObject({ code: expect.any(String) as string });
  });
});
