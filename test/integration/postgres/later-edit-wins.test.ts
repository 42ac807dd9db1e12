import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeProvider } from '../../fixtures/fake-provider.js';
import { startFaultProxy } from '../../fixtures/services/fault-proxy.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { api, startServer, status, tempDir, testConfig, waitFor, waitRecovered } from './helpers.js';

// Two instances edit the same conversation; the one that edited first pushes last (it was cut
// off from PostgreSQL for a moment). The later edit must stay, in PostgreSQL and in both local
// replicas: the push that arrives late must not undo an edit made after it.
let pg: PrivatePostgres;

beforeAll(async () => {
  pg = await startPostgres();
});

afterAll(async () => {
  await pg?.stop();
});

function localTitle(dataDir: string, id: string): string | undefined {
  const db = new Sqlite(path.join(dataDir, 'replica.db'), { readonly: true });
  try {
    return (db.prepare('SELECT title FROM conversations WHERE id = ?').get(id) as { title: string } | undefined)?.title;
  } finally {
    db.close();
  }
}

describe('concurrent edits on two instances', { timeout: 120_000 }, () => {
  it('the later edit wins even when the earlier one reaches PostgreSQL last', async () => {
    const database = await pg.createDatabase('lww');
    const proxyA = await startFaultProxy({ host: pg.host, port: pg.port });
    const dirA = tempDir('orchestra-a-');
    const dirB = tempDir('orchestra-b-');
    const provider = await startFakeProvider({ echo: true });
    const a = await startServer(testConfig({ dataDir: dirA.dir, databaseUrl: pg.url(database, { port: proxyA.port }), llmBaseUrl: provider.url }), { probeTargets: [] });
    const b = await startServer(testConfig({ dataDir: dirB.dir, databaseUrl: pg.url(database), llmBaseUrl: provider.url }), { probeTargets: [] });
    try {
      await Promise.all([waitRecovered(a), waitRecovered(b)]);
      // A conversation both know: made on B, pulled by A.
      const made = await api<{ conversationId: string }>(b, 'POST', '/api/chat', { message: 'to be edited twice' });
      expect(made.status).toBe(200);
      const id = made.body.conversationId;
      await waitFor('A pulled the conversation', () => localTitle(dirA.dir, id) === 'to be edited twice', 20_000, 50);

      // A is cut off: its edit commits locally and waits in its outbox.
      await proxyA.setMode('blackhole');
      const first = await api<{ title: string; updatedAt: string }>(a, 'PATCH', `/api/conversations/${id}`, { title: 'edited first, on A' });
      expect(first.status).toBe(200);
      expect((await status(a)).components.database.pendingSync).toBeGreaterThan(0);
      // B edits after it (a later timestamp), and its push lands first.
      await waitFor('the clock past the first edit', () => new Date().toISOString() > first.body.updatedAt, 5_000, 1);
      const second = await api<{ title: string }>(b, 'PATCH', `/api/conversations/${id}`, { title: 'edited later, on B' });
      expect(second.status).toBe(200);
      const inPostgres = async (): Promise<string | undefined> =>
        (await pg.query<{ title: string }>(database, 'SELECT title FROM conversations WHERE id = $1', [id]))[0]?.title;
      await waitFor('B’s edit in PostgreSQL', async () => (await inPostgres()) === 'edited later, on B', 20_000, 50);

      // A comes back and pushes its earlier edit last.
      await proxyA.setMode('pass');
      await waitRecovered(a);
      expect(await inPostgres()).toBe('edited later, on B');
      await waitFor('A’s replica took the later edit', () => localTitle(dirA.dir, id) === 'edited later, on B', 20_000, 50);
      await waitFor('B’s replica kept the later edit', () => localTitle(dirB.dir, id) === 'edited later, on B', 20_000, 50);
      for (const server of [a, b]) {
        const page = await api<{ title: string }>(server, 'GET', `/api/conversations/${id}`);
        expect(page.body.title).toBe('edited later, on B');
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
      await proxyA.close();
      await provider.close();
      dirA.remove();
      dirB.remove();
    }
  });
});
