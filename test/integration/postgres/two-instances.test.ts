import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../fixtures/fake-provider.js';
import { startFaultProxy } from '../../fixtures/services/fault-proxy.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import {
  api,
  assertAllInPostgres,
  chatLoad,
  outboxLength,
  startServer,
  status,
  tempDir,
  testConfig,
  waitFor,
  waitRecovered,
} from './helpers.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';

// Two instances share one PostgreSQL; one of them is cut off for a while. Both must end up with
// the same full history, in PostgreSQL and in each local replica.
let pg: PrivatePostgres;
let provider: FakeProvider;

beforeAll(async () => {
  [pg, provider] = await Promise.all([startPostgres(), startFakeProvider({ echo: true, tokenIntervalMs: 1 })]);
});

afterAll(async () => {
  await Promise.all([pg?.stop(), provider?.close()]);
});

type History = string;

/** Conversations and messages as one comparable string, sorted by id. */
function localHistory(dataDir: string): History {
  const db = new Sqlite(path.join(dataDir, 'replica.db'), { readonly: true });
  try {
    const conversations = db.prepare('SELECT id, title FROM conversations ORDER BY id').all();
    const messages = db.prepare('SELECT id, conversation_id, role, content, status FROM messages ORDER BY id').all();
    return JSON.stringify({ conversations, messages });
  } finally {
    db.close();
  }
}

function hasMessage(dataDir: string, id: string, status: string): boolean {
  const db = new Sqlite(path.join(dataDir, 'replica.db'), { readonly: true });
  try {
    return db.prepare('SELECT 1 FROM messages WHERE id = ? AND status = ?').get(id, status) !== undefined;
  } finally {
    db.close();
  }
}

async function remoteHistory(database: string): Promise<History> {
  const conversations = await pg.query(database, 'SELECT id, title FROM conversations ORDER BY id');
  const messages = await pg.query(database, 'SELECT id, conversation_id, role, content, status FROM messages ORDER BY id');
  return JSON.stringify({ conversations, messages });
}

describe('two instances on one PostgreSQL', () => {
  it('converge to the same full history after one of them was cut off', async () => {
    const database = await pg.createDatabase();
    const proxyA = await startFaultProxy({ host: pg.host, port: pg.port });
    const proxyB = await startFaultProxy({ host: pg.host, port: pg.port });
    const dirA = tempDir('orchestra-a-');
    const dirB = tempDir('orchestra-b-');
    const a = await startServer(testConfig({ dataDir: dirA.dir, databaseUrl: pg.url(database, { port: proxyA.port }), llmBaseUrl: provider.url }), { probeTargets: [] });
    const b = await startServer(testConfig({ dataDir: dirB.dir, databaseUrl: pg.url(database, { port: proxyB.port }), llmBaseUrl: provider.url }), { probeTargets: [] });
    try {
      await Promise.all([waitRecovered(a), waitRecovered(b)]);
      const loadA = chatLoad(a, { clients: 2, tag: 'on-a' });
      const loadB = chatLoad(b, { clients: 2, tag: 'on-b' });
      await Promise.all([loadA.progress(10), loadB.progress(10)]);

      // B has pulled A's first finished turn (pulls run every 300 ms).
      const early = loadA.results[0];
      expect(early).toBeDefined();
      await waitFor('b pulled a', () => hasMessage(dirB.dir, early!.assistantId, 'complete'), PATIENCE_MS, 100);

      // B is partitioned from PostgreSQL; both keep serving their users.
      await proxyB.setMode('blackhole');
      await waitFor('b degraded', async () => (await status(b)).status === 'degraded', PATIENCE_MS);
      // Ten more turns each, B's while it cannot reach PostgreSQL: they wait in its outbox.
      await Promise.all([loadA.progress(10), loadB.progress(10)]);
      expect(outboxLength(dirB.dir)).toBeGreaterThan(0);
      // While cut off, B still serves A's earlier conversations from its replica.
      const seenOnB = await api<{ messages: Array<{ id: string }> }>(b, 'GET', `/api/conversations/${early!.conversationId}`);
      expect(seenOnB.status).toBe(200);
      expect(seenOnB.body.messages.map((m) => m.id)).toContain(early!.assistantId);

      await proxyB.setMode('pass');
      await Promise.all([loadA.progress(6), loadB.progress(6)]);
      await Promise.all([loadA.stop(), loadB.stop()]);
      await Promise.all([waitRecovered(a), waitRecovered(b)]);

      expect([outboxLength(dirA.dir), outboxLength(dirB.dir)]).toEqual([0, 0]);
      expect(loadA.failures).toEqual([]);
      expect(loadB.failures).toEqual([]);
      await assertAllInPostgres(pg, database, [...loadA.results, ...loadB.results]);
      const remote = await remoteHistory(database);
      await waitFor('replica A converged', () => localHistory(dirA.dir) === remote, PATIENCE_MS, 100);
      await waitFor('replica B converged', () => localHistory(dirB.dir) === remote, PATIENCE_MS, 100);

      // And through the API, either instance shows the other's latest conversation in full.
      const last = loadB.results[loadB.results.length - 1]!;
      const onA = await api<{ messages: Array<{ id: string; content: string }> }>(a, 'GET', `/api/conversations/${last.conversationId}`);
      expect(onA.body.messages.find((m) => m.id === last.assistantId)?.content).toBe(last.assistantContent);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([proxyA.close(), proxyB.close()]);
      dirA.remove();
      dirB.remove();
    }
  });
});
