import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../fixtures/fake-provider.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';
import { startFaultProxy } from '../../fixtures/services/fault-proxy.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { startRedis, type RedisService } from '../../fixtures/services/redis.js';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, DoneEvent, ServerToClientEvents } from '../../../backend/contract/index.js';
import {
  api,
  assertAllInPostgres,
  chatLoad,
  status,
  startServer,
  tempDir,
  testConfig,
  waitFor,
  waitRecovered,
  type ChatResult,
  type RunningServer,
} from './helpers.js';

// DATABASE_URL switched live between SQLite and PostgreSQL (issue 9), through the running
// server's reconfigure, with chats going on through real HTTP the whole time.
let pg: PrivatePostgres;
let provider: FakeProvider;
let redis: RedisService;

beforeAll(async () => {
  // Echoed replies stream one word every 3 ms: long messages are still streaming during a switch.
  [pg, provider, redis] = await Promise.all([startPostgres(), startFakeProvider({ echo: true, tokenIntervalMs: 3 }), startRedis()]);
});

afterAll(async () => {
  await Promise.all([pg?.stop(), provider?.close(), redis?.stop()]);
});

interface Row {
  id: string;
  conversation_id: string;
  role: string;
  content: string;
  status: string;
}

function sqliteMessages(file: string): Row[] {
  const db = new Sqlite(file, { readonly: true });
  try {
    return db.prepare('SELECT id, conversation_id, role, content, status FROM messages').all() as Row[];
  } finally {
    db.close();
  }
}

function sqliteConversationIds(file: string): string[] {
  const db = new Sqlite(file, { readonly: true });
  try {
    return (db.prepare('SELECT id FROM conversations ORDER BY id').all() as Array<{ id: string }>).map((r) => r.id);
  } finally {
    db.close();
  }
}

/** Every acknowledged reply in the rows exactly once, as the client got it; every user message once. */
function assertAllIn(rows: Row[], results: ChatResult[]): void {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const users = new Map<string, number>();
  for (const r of rows) if (r.role === 'user') users.set(`${r.conversation_id}\n${r.content}`, (users.get(`${r.conversation_id}\n${r.content}`) ?? 0) + 1);
  const problems: string[] = [];
  for (const r of results) {
    const stored = byId.get(r.assistantId);
    if (!stored || stored.content !== r.assistantContent || stored.status !== r.status) problems.push(`reply ${r.assistantId}: ${JSON.stringify(stored)}`);
    const n = users.get(`${r.conversationId}\n${r.userContent}`) ?? 0;
    if (n !== 1) problems.push(`user message "${r.userContent}" stored ${n} times`);
  }
  expect(problems).toEqual([]);
}

async function listAll(server: RunningServer): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const route = `/api/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page: { status: number; body: { items: Array<{ id: string }>; nextCursor: string | null } } = await api(server, 'GET', route);
    expect(page.status).toBe(200);
    ids.push(...page.body.items.map((c) => c.id));
    cursor = page.body.nextCursor;
  } while (cursor !== null);
  return ids.sort();
}

async function metrics(server: RunningServer): Promise<string> {
  const res = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${server.token}` } });
  expect(res.status).toBe(200);
  return res.text();
}

const longMessage = (tag: string): string => Array.from({ length: 120 }, (_, i) => `${tag}-${i}`).join(' ');

describe('DATABASE_URL switched live between SQLite and PostgreSQL', () => {
  it('SQLite -> PostgreSQL -> SQLite -> PostgreSQL under load: nothing lost or duplicated, before and after a restart', async () => {
    const database = await pg.createDatabase('switch');
    const data = tempDir('orchestra-switch-');
    const appDb = path.join(data.dir, 'app.db');
    const sqliteUrl = `sqlite:///${appDb}`;
    const pgUrl = pg.url(database);
    let server = await startServer(testConfig({ dataDir: data.dir, databaseUrl: sqliteUrl, llmBaseUrl: provider.url }));
    try {
      const load = chatLoad(server, { clients: 3, tag: 'switch' });
      await load.progress(6);
      const gone = await api<{ conversationId: string }>(server, 'POST', '/api/chat', { message: 'deleted while in SQLite mode later' });
      expect(gone.status).toBe(200);

      // A streamed reply that is still streaming while the store changes.
      const streamed = api<{ message: { id: string; content: string; status: string } }>(server, 'POST', '/api/chat', { message: longMessage('first') });
      expect(await server.reconfigure({ databaseUrl: pgUrl })).toEqual({ applied: ['databaseUrl'], restartRequired: [] });
      expect((await status(server)).components.database.backend).toBe('postgres');
      const first = await streamed;
      expect(first.status).toBe(200);
      expect(first.body.message).toMatchObject({ content: longMessage('first'), status: 'complete' });
      await load.progress(6);

      const second = api<{ message: { id: string; content: string; status: string } }>(server, 'POST', '/api/chat', { message: longMessage('second') });
      expect(await server.reconfigure({ databaseUrl: sqliteUrl })).toEqual({ applied: ['databaseUrl'], restartRequired: [] });
      expect((await status(server)).components.database).toMatchObject({ backend: 'sqlite', breaker: null, pendingSync: 0 });
      expect((await second).body.message).toMatchObject({ content: longMessage('second'), status: 'complete' });
      const inSqlite = await metrics(server);
      expect(inSqlite).toMatch(/orchestra_db_active_backend\{backend="sqlite"\} 1/);
      expect(inSqlite).toMatch(/orchestra_db_active_backend\{backend="postgres"\} 0/);
      expect(inSqlite).toMatch(/orchestra_outbox_backlog 0/);
      expect(inSqlite).not.toMatch(/orchestra_breaker_state\{breaker="postgres"/);
      await load.progress(6);
      // Deleted while SQLite is in use: the delete reaches PostgreSQL at the next switch.
      expect((await api(server, 'DELETE', `/api/conversations/${gone.body.conversationId}`)).status).toBe(204);

      expect(await server.reconfigure({ databaseUrl: pgUrl })).toEqual({ applied: ['databaseUrl'], restartRequired: [] });
      await load.progress(6);
      await load.stop();
      expect(load.failures).toEqual([]);
      await waitRecovered(server);
      await waitFor('the gauges on PostgreSQL', async () => /orchestra_db_active_backend\{backend="postgres"\} 1/.test(await metrics(server)));

      const results = load.results;
      await assertAllInPostgres(pg, database, results);
      const rows = await pg.query<Row>(database, 'SELECT id, conversation_id, role, content, status FROM messages');
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect(byId.get(first.body.message.id)).toMatchObject({ content: longMessage('first'), status: 'complete' });
      expect(byId.get((await second).body.message.id)).toMatchObject({ content: longMessage('second'), status: 'complete' });
      expect(rows.filter((r) => r.status === 'streaming')).toEqual([]);
      const pgConversations = (await pg.query<{ id: string }>(database, 'SELECT id FROM conversations ORDER BY id')).map((r) => r.id);
      expect(pgConversations).not.toContain(gone.body.conversationId);
      expect(await listAll(server)).toEqual(pgConversations);

      // A restart with the URL in effect finds the same state.
      await server.close();
      server = await startServer(testConfig({ dataDir: data.dir, databaseUrl: pgUrl, llmBaseUrl: provider.url }));
      expect(await listAll(server)).toEqual(pgConversations);

      // Back to SQLite from a PostgreSQL-mode start: app.db gets everything, once.
      expect(await server.reconfigure({ databaseUrl: sqliteUrl })).toEqual({ applied: ['databaseUrl'], restartRequired: [] });
      assertAllIn(sqliteMessages(appDb), results);
      expect(sqliteConversationIds(appDb)).toEqual(expect.arrayContaining(pgConversations));
      await server.close();
      server = await startServer(testConfig({ dataDir: data.dir, databaseUrl: sqliteUrl, llmBaseUrl: provider.url }));
      const afterRestart = await listAll(server);
      expect(afterRestart).toEqual(expect.arrayContaining(pgConversations));
      expect(new Set(afterRestart).size).toBe(afterRestart.length);
    } finally {
      await server.close();
      data.remove();
    }
  });

  it('an unreachable PostgreSQL: the switch completes and the outbox holds the writes until it answers', async () => {
    const database = await pg.createDatabase('unreachable');
    const proxy = await startFaultProxy({ host: pg.host, port: pg.port });
    const data = tempDir('orchestra-switch-down-');
    const server = await startServer(testConfig({ dataDir: data.dir, databaseUrl: `sqlite:///${path.join(data.dir, 'app.db')}`, llmBaseUrl: provider.url }));
    try {
      // One SQLite file to another is the one database switch that needs a restart.
      expect(await server.reconfigure({ databaseUrl: `sqlite:///${path.join(data.dir, 'other.db')}` })).toEqual({ applied: [], restartRequired: ['databaseUrl'] });
      const load = chatLoad(server, { clients: 2, tag: 'down' });
      await load.progress(4);
      await proxy.setMode('refuse');
      expect(await server.reconfigure({ databaseUrl: pg.url(database, { port: proxy.port }) })).toEqual({ applied: ['databaseUrl'], restartRequired: [] });
      await load.progress(4);
      const waiting = (await status(server)).components.database;
      expect(waiting.backend).toBe('postgres');
      expect(waiting.pendingSync).toBeGreaterThan(0);
      expect((await pg.query<{ n: string }>(database, "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'messages'"))[0]?.n).toBe('0');

      await proxy.setMode('pass');
      await load.progress(4);
      await load.stop();
      expect(load.failures).toEqual([]);
      await waitRecovered(server);
      await assertAllInPostgres(pg, database, load.results);

      // Not a database URL: refused, and the store in use goes on.
      await expect(server.reconfigure({ databaseUrl: 'mysql://nowhere/db' })).rejects.toThrow(/DATABASE_URL/);
      expect((await api(server, 'POST', '/api/chat', { message: 'still writing' })).status).toBe(200);
    } finally {
      await server.close();
      await proxy.close();
      data.remove();
    }
  });

  it('an instance joining another on PostgreSQL and Redis live: each sees the other, events relay, and a switch back keeps what it pulled', async () => {
    const database = await pg.createDatabase('shared');
    const pgUrl = pg.url(database);
    const dataA = tempDir('orchestra-switch-a-');
    const dataB = tempDir('orchestra-switch-b-');
    const appDb = path.join(dataA.dir, 'app.db');
    const a = await startServer(testConfig({ dataDir: dataA.dir, databaseUrl: `sqlite:///${appDb}`, llmBaseUrl: provider.url }));
    const b = await startServer(testConfig({ dataDir: dataB.dir, databaseUrl: pgUrl, redisUrl: redis.url, llmBaseUrl: provider.url, redisCommandTimeoutMs: 1000 }));
    let watcher: Socket<ServerToClientEvents, ClientToServerEvents> | undefined;
    try {
      const onA = await api<{ conversationId: string }>(a, 'POST', '/api/chat', { message: 'written on A in SQLite mode' });
      const onB = await api<{ conversationId: string }>(b, 'POST', '/api/chat', { message: 'written on B' });
      expect(await a.reconfigure({ databaseUrl: pgUrl, redisUrl: redis.url })).toEqual({ applied: ['databaseUrl', 'redisUrl'], restartRequired: [] });
      await waitFor('B sees A\'s conversation', async () => (await listAll(b)).includes(onA.body.conversationId));
      // A client on B follows a turn A streams: the relay A attached live carries it.
      watcher = connect(b.wsUrl, { path: '/ws', transports: ['websocket'], auth: { token: b.token }, reconnection: false, forceNew: true });
      const w = watcher;
      await new Promise<void>((resolve, reject) => {
        w.once('connect', () => resolve());
        w.once('connect_error', reject);
      });
      expect(await w.emitWithAck('conversation:join', { conversationId: onA.body.conversationId })).toMatchObject({ joined: onA.body.conversationId });
      const done = new Promise<DoneEvent>((resolve) => w.once('chat:done', resolve));
      const turn = await api<{ message: { id: string } }>(a, 'POST', '/api/chat', { message: 'streamed on A, seen on B', conversationId: onA.body.conversationId });
      const seen = await Promise.race([done, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no chat:done on B')), PATIENCE_MS))]);
      expect(seen.message.id).toBe(turn.body.message.id);
      await waitFor('A sees B\'s conversation', async () => (await listAll(a)).includes(onB.body.conversationId));
      // A's replica has pulled B's rows; leaving PostgreSQL keeps them.
      await waitFor('B\'s conversation in A\'s replica', () => sqliteConversationIds(path.join(dataA.dir, 'replica.db')).includes(onB.body.conversationId));
      expect(await a.reconfigure({ databaseUrl: `sqlite:///${appDb}` })).toEqual({ applied: ['databaseUrl'], restartRequired: [] });
      expect(await listAll(a)).toEqual(expect.arrayContaining([onA.body.conversationId, onB.body.conversationId]));
      const counts = await pg.query<{ n: string }>(database, 'SELECT count(*) AS n FROM conversations');
      expect(counts[0]?.n).toBe('2');
    } finally {
      watcher?.disconnect();
      await a.close();
      await b.close();
      dataA.remove();
      dataB.remove();
    }
  });
});
