import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KyselyCredentialStore, type SessionRecord } from '../../../backend/data/credentials.js';
import { openPostgres, preparePostgres } from '../../../backend/data/postgres.js';
import { openSqlite } from '../../../backend/data/sqlite.js';
import { migrate } from '../../../backend/data/migrate.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { silent, tempDir } from './helpers.js';

/** The credential tables (migration 3) behave the same on PostgreSQL and SQLite. */
let pg: PrivatePostgres;
const cleanups: Array<() => Promise<void> | void> = [];
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await pg?.stop();
});

const session = (id: string, hash: string): SessionRecord => ({
  id,
  label: 'browser',
  scope: 'admin',
  secretHash: hash,
  createdAt: new Date().toISOString(),
  lastSeenAt: null,
  address: '192.0.2.9',
});

async function stores(): Promise<Array<[string, KyselyCredentialStore]>> {
  const target = openPostgres({ url: pg.url(await pg.createDatabase()), connectTimeoutMs: 2000, queryTimeoutMs: 2000, logger: silent });
  cleanups.push(() => target.close());
  await preparePostgres(target.db);
  const dir = tempDir('orchestra-cred-');
  const { db } = openSqlite(`${dir.dir}/app.db`);
  cleanups.push(async () => {
    await db.destroy();
    dir.remove();
  });
  await migrate(db);
  return [
    ['postgres', new KyselyCredentialStore(target.db)],
    ['sqlite', new KyselyCredentialStore(db)],
  ];
}

describe('credential store on both dialects', () => {
  it('tokens, sessions and one-time pairing codes', async () => {
    for (const [name, store] of await stores()) {
      const now = new Date();
      await store.insertToken({ id: 't1', name: 'ci', scope: 'user', tokenHash: 'h1', createdAt: now.toISOString(), lastUsedAt: null });
      expect(await store.tokenByHash('h1'), name).toMatchObject({ id: 't1', scope: 'user' });
      await store.touchToken('t1', now.toISOString());
      expect((await store.listTokens())[0]?.lastUsedAt, name).toBe(now.toISOString());
      expect(await store.revokeToken('t1'), name).toBe(true);
      expect(await store.revokeToken('t1'), name).toBe(false);
      expect(await store.tokenByHash('h1'), name).toBeUndefined();

      const expires = new Date(now.getTime() + 600_000).toISOString();
      await store.insertPairingCode({ codeHash: 'c1', scope: 'user', label: 'kiosk', createdAt: now.toISOString(), expiresAt: expires });
      expect(await store.redeemPairingCode('c1', now, session('s1', 'sh1')), name).toBe('paired');
      expect(await store.redeemPairingCode('c1', now, session('s2', 'sh2')), name).toBe('used');
      expect(await store.redeemPairingCode('nope', now, session('s3', 'sh3')), name).toBe('unknown');
      await store.insertPairingCode({ codeHash: 'c2', scope: 'admin', label: null, createdAt: now.toISOString(), expiresAt: now.toISOString() });
      expect(await store.redeemPairingCode('c2', now, session('s4', 'sh4')), name).toBe('expired');
      const sessions = await store.listSessions();
      expect(sessions.map((s) => [s.id, s.label, s.scope]), name).toEqual([['s1', 'kiosk', 'user']]);
      expect(await store.sessionByHash('sh1'), name).toMatchObject({ id: 's1' });
      expect(await store.revokeSession('s1'), name).toBe(true);
      expect(await store.sessionByHash('sh1'), name).toBeUndefined();
    }
  });
});
