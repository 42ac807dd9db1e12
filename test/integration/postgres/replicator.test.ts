import { Kysely } from 'kysely';
import pg_ from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Breaker } from '../../../backend/breaker/breaker.js';
import { newId } from '../../../backend/data/ids.js';
import { migrate } from '../../../backend/data/migrate.js';
import { LOCAL_MIGRATIONS_TABLE, localMigrations } from '../../../backend/data/migrations/local.js';
import { Outbox } from '../../../backend/data/outbox.js';
import { pushBatch, readChanges } from '../../../backend/data/remote-sync.js';
import { Replicator } from '../../../backend/data/replicator.js';
import { openSqlite } from '../../../backend/data/sqlite.js';
import type { Conversation, Message, Mutation } from '../../../backend/data/store.js';
import type { LocalDatabase } from '../../../backend/data/sync-schema.js';
import { startFaultProxy } from '../../fixtures/services/fault-proxy.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { FAST, openRemote, openReplicated, silent, sleep, tempDir, waitFor } from './helpers.js';
import { settledBeforeTheLoopTurns, WAITED } from '../../fixtures/event-loop.js';
import { PATIENCE_MS, SCHEDULING_SLACK_MS } from '../../fixtures/patience.js';

let pg: PrivatePostgres;
const dirs: Array<() => void> = [];

beforeAll(async () => {
  pg = await startPostgres();
});

afterAll(async () => {
  await pg?.stop();
  for (const remove of dirs) remove();
});

function dataDir(): string {
  const t = tempDir('orchestra-repl-');
  dirs.push(t.remove);
  return t.dir;
}

const at = (i: number): string => new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString();

function conversation(title = 'hello', i = 0): Conversation {
  return { id: newId(), title, createdAt: at(i), updatedAt: at(i) };
}

function message(conversationId: string, content: string, status: Message['status'] = 'complete', i = 0): Message {
  return {
    id: newId(),
    conversationId,
    role: 'user',
    content,
    status,
    model: null,
    promptTokens: null,
    completionTokens: 3,
    ttftMs: 1.5,
    durationMs: 10.25,
    validation: { verdict: 'pass' },
    error: null,
    createdAt: at(i),
    updatedAt: at(i),
  };
}

const remoteDb = (database: string) => openRemote(pg, database);

describe('pushBatch (real PostgreSQL)', () => {
  it('replaying a batch twice creates no duplicates and keeps the content', async () => {
    const database = await pg.createDatabase();
    const remote = await remoteDb(database);
    try {
      const c = conversation();
      const m1 = message(c.id, 'first');
      const m2 = message(c.id, 'second ünïcødé 🎵');
      const batch: Mutation[] = [
        { kind: 'conversation.upsert', row: c },
        { kind: 'message.upsert', row: m1 },
        { kind: 'message.upsert', row: m2 },
        {
          kind: 'validation.insert',
          row: { id: newId(), messageId: m1.id, source: 'chat', verdict: 'pass', errors: 0, warnings: 1, notes: 0, configHash: 'h', durationMs: 2, findings: [], createdAt: at(0) },
        },
      ];
      const first = await pushBatch(remote.target, batch);
      const second = await pushBatch(remote.target, batch);
      expect(second.seq).toBeGreaterThan(first.seq);
      const messages = await pg.query(database, 'SELECT id, content, completion_tokens, ttft_ms, validation FROM messages ORDER BY id');
      expect(messages).toEqual([
        { id: m1.id, content: 'first', completion_tokens: 3, ttft_ms: 1.5, validation: '{"verdict":"pass"}' },
        { id: m2.id, content: 'second ünïcødé 🎵', completion_tokens: 3, ttft_ms: 1.5, validation: '{"verdict":"pass"}' },
      ]);
      expect(await pg.query(database, 'SELECT count(*)::int AS n FROM conversations')).toEqual([{ n: 1 }]);
      expect(await pg.query(database, 'SELECT count(*)::int AS n FROM validations')).toEqual([{ n: 1 }]);
    } finally {
      await remote.close();
    }
  });

  it('applies a batch in order: the last version of a row wins, a delete removes what came before it', async () => {
    const database = await pg.createDatabase();
    const remote = await remoteDb(database);
    try {
      const keep = conversation('keep');
      const gone = conversation('gone');
      const placeholder = message(keep.id, '', 'streaming');
      const final = { ...placeholder, content: 'the reply', status: 'complete' as const, updatedAt: at(5) };
      await pushBatch(remote.target, [
        { kind: 'conversation.upsert', row: keep },
        { kind: 'conversation.upsert', row: gone },
        { kind: 'message.upsert', row: placeholder },
        { kind: 'message.upsert', row: message(gone.id, 'doomed') },
        { kind: 'message.upsert', row: final },
        { kind: 'conversation.upsert', row: { ...keep, title: 'renamed', updatedAt: at(6) } },
        { kind: 'conversation.delete', id: gone.id },
      ]);
      expect(await pg.query(database, 'SELECT id, title FROM conversations')).toEqual([{ id: keep.id, title: 'renamed' }]);
      expect(await pg.query(database, 'SELECT id, content, status FROM messages')).toEqual([{ id: placeholder.id, content: 'the reply', status: 'complete' }]);
      expect(await pg.query(database, "SELECT id FROM sync_tombstones WHERE entity = 'conversation'")).toEqual([{ id: gone.id }]);

      // Delete wins: a later write to the deleted conversation (from an instance that had not
      // heard of the delete yet) is dropped instead of resurrecting it or blocking the outbox.
      const late = await pushBatch(remote.target, [
        { kind: 'conversation.upsert', row: { ...gone, title: 'back?' } },
        { kind: 'message.upsert', row: message(gone.id, 'late') },
      ]);
      expect(late.dropped).toBe(2);
      expect(await pg.query(database, 'SELECT count(*)::int AS n FROM conversations WHERE id = $1', [gone.id])).toEqual([{ n: 0 }]);
    } finally {
      await remote.close();
    }
  });

  it('a push stuck mid-transaction (its instance partitioned) does not block the pushes of others', async () => {
    const database = await pg.createDatabase();
    const remote = await remoteDb(database);
    const stuck = new pg_.Client({ connectionString: pg.url(database) });
    stuck.on('error', () => {});
    await stuck.connect();
    try {
      // What a partitioned instance leaves behind: a push that wrote its rows and then went silent.
      const theirs = conversation('theirs');
      await stuck.query('BEGIN');
      await stuck.query('INSERT INTO conversations (id, title, created_at, updated_at, sync_seq) VALUES ($1, $2, $3, $3, -42)', [theirs.id, theirs.title, at(0)]);
      const stuckPid = ((await stuck.query('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number }).pid;
      const mine = conversation('mine');
      const result = await pushBatch(remote.target, [{ kind: 'conversation.upsert', row: mine }, { kind: 'message.upsert', row: message(mine.id, 'hi') }]);
      // Done while the stuck push still holds its transaction open: it did not wait for it (a push
      // that did would have run into the query timeout and failed).
      expect(await pg.query(database, 'SELECT state FROM pg_stat_activity WHERE pid = $1', [stuckPid])).toEqual([{ state: 'idle in transaction' }]);
      expect(result.seq).toBe(1);
      expect(await pg.query(database, 'SELECT id, sync_seq FROM conversations')).toEqual([{ id: mine.id, sync_seq: '1' }]);
    } finally {
      await stuck.end();
      await remote.close();
    }
  });

  it('readChanges returns each window once, with tombstones and the parents of messages', async () => {
    const database = await pg.createDatabase();
    const remote = await remoteDb(database);
    try {
      const c = conversation();
      const m = message(c.id, 'one');
      await pushBatch(remote.target, [{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: m }]);
      // The conversation changes again later: the first window still gets it for its message.
      await pushBatch(remote.target, [{ kind: 'conversation.upsert', row: { ...c, title: 'two' } }]);
      const d = conversation('deleted');
      await pushBatch(remote.target, [{ kind: 'conversation.upsert', row: d }]);
      await pushBatch(remote.target, [{ kind: 'conversation.delete', id: d.id }]);

      const first = await readChanges(remote.db, 0, 1);
      expect(first).toMatchObject({ after: 0, upTo: 1, head: 4 });
      expect(first.messages.map((r) => r.id)).toEqual([m.id]);
      expect(first.conversations.map((r) => [r.id, r.title])).toEqual([[c.id, 'two']]);
      const rest = await readChanges(remote.db, 1, 10);
      expect(rest).toMatchObject({ after: 1, upTo: 4, head: 4, deletedConversations: [d.id] });
      expect(rest.conversations.map((r) => r.id)).toEqual([c.id]);
      expect(rest.messages).toEqual([]);
      expect(await readChanges(remote.db, 4, 10)).toMatchObject({ upTo: 4, conversations: [], messages: [] });
    } finally {
      await remote.close();
    }
  });
});

describe('pull (real SQLite + real PostgreSQL)', () => {
  it('never overwrites a local row with un-replicated changes, and a delete still wins', async () => {
    const database = await pg.createDatabase();
    const remote = await remoteDb(database);
    const dir = dataDir();
    const { db } = openSqlite(`${dir}/replica.db`);
    try {
      await migrate(db);
      await migrate(db, { migrations: localMigrations, table: LOCAL_MIGRATIONS_TABLE });
      const local = db as unknown as Kysely<LocalDatabase>;
      const outbox = new Outbox(local);
      const breaker = new Breaker('postgres', { threshold: 3, resetTimeoutMs: 500, timeoutMs: 2000 });
      const replicator = new Replicator({
        local,
        outbox,
        breaker,
        remote: () => ({ db: remote.db, withClient: (fn) => remote.target.withClient(fn), ready: () => Promise.resolve('test') }),
        logger: silent,
        observe: () => {},
        pullIntervalMs: 60_000,
        onOutboxShrunk: () => {},
      });
      await replicator.close(); // only applyPage is exercised here: no background passes

      // Another instance wrote a conversation with two messages; this replica pulled it.
      const c = conversation('theirs');
      const a = message(c.id, 'a');
      const b = message(c.id, 'b');
      await pushBatch(remote.target, [{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: a }, { kind: 'message.upsert', row: b }]);
      await replicator.applyPage('db1', await readChanges(remote.db, 0, 10));
      expect(await local.selectFrom('messages').select('content').orderBy('id').execute()).toEqual([{ content: 'a' }, { content: 'b' }]);

      // Locally, message a is edited and the conversation renamed; neither is pushed yet.
      await local.transaction().execute(async (trx) => {
        await trx.updateTable('messages').set({ content: 'a (mine)' }).where('id', '=', a.id).execute();
        await trx.updateTable('conversations').set({ title: 'mine' }).where('id', '=', c.id).execute();
        await outbox.append(trx, [
          { kind: 'message.upsert', row: { ...a, content: 'a (mine)' } },
          { kind: 'conversation.upsert', row: { ...c, title: 'mine' } },
        ]);
      });
      // Meanwhile the other instance changed all three rows.
      await pushBatch(remote.target, [
        { kind: 'conversation.upsert', row: { ...c, title: 'theirs v2' } },
        { kind: 'message.upsert', row: { ...a, content: 'a (theirs)' } },
        { kind: 'message.upsert', row: { ...b, content: 'b (theirs)' } },
        { kind: 'message.upsert', row: message(c.id, 'streaming elsewhere', 'streaming') },
      ]);
      await replicator.applyPage('db1', await readChanges(remote.db, 1, 10));
      expect(await local.selectFrom('conversations').select('title').execute()).toEqual([{ title: 'mine' }]);
      expect(await local.selectFrom('messages').select(['content', 'status']).orderBy('id').execute()).toEqual([
        { content: 'a (mine)', status: 'complete' },
        { content: 'b (theirs)', status: 'complete' },
      ]);

      // The other instance deletes the conversation: the delete wins over the pending edits.
      await pushBatch(remote.target, [{ kind: 'conversation.delete', id: c.id }]);
      await replicator.applyPage('db1', await readChanges(remote.db, 2, 10));
      expect(await local.selectFrom('conversations').selectAll().execute()).toEqual([]);
      expect(await local.selectFrom('messages').selectAll().execute()).toEqual([]);
      const cursor = await local.selectFrom('sync_state').select('value').where('key', '=', 'pull-cursor:db1').executeTakeFirst();
      expect(cursor?.value).toBe('3');
      breaker.shutdown();
    } finally {
      await db.destroy();
      await remote.close();
    }
  });
});

describe('ReplicatedStore (real SQLite + real PostgreSQL)', () => {
  it('drains the outbox in order in small batches, including renames and deletes', async () => {
    const database = await pg.createDatabase();
    const opened = await openReplicated(pg.url(database), dataDir(), { batchSize: 2 });
    const { store } = opened;
    try {
      const c = conversation('first title');
      const d = conversation('to delete');
      const placeholder = message(c.id, '', 'streaming');
      await store.apply([{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: placeholder }]);
      await store.apply([{ kind: 'message.upsert', row: { ...placeholder, content: 'done', status: 'complete' } }]);
      await store.apply([{ kind: 'conversation.upsert', row: { ...c, title: 'renamed' } }]);
      await store.apply([{ kind: 'conversation.upsert', row: d }, { kind: 'message.upsert', row: message(d.id, 'x') }]);
      await store.apply([{ kind: 'conversation.delete', id: d.id }]);
      await waitFor('outbox drained', () => store.health().pendingSync === 0);
      await store.settle();
      expect(await pg.query(database, 'SELECT id, title FROM conversations')).toEqual([{ id: c.id, title: 'renamed' }]);
      expect(await pg.query(database, 'SELECT id, content, status FROM messages')).toEqual([{ id: placeholder.id, content: 'done', status: 'complete' }]);
      expect(store.health()).toEqual({ backend: 'postgres', mode: 'primary', breaker: 'closed', pendingSync: 0 });
      // Reads come from PostgreSQL now and agree with what was written.
      const page = await store.getConversationWithMessages(c.id);
      expect(page?.messages.map((m) => m.content)).toEqual(['done']);
      expect(await store.getConversation(d.id)).toBeUndefined();
    } finally {
      await opened.close();
    }
  });

  it('reads its own writes before they reach PostgreSQL, merged with what others wrote', async () => {
    const database = await pg.createDatabase();
    const proxy = await startFaultProxy({ host: pg.host, port: pg.port });
    const dirA = dataDir();
    const a = await openReplicated(pg.url(database, { port: proxy.port }), dirA);
    const b = await openReplicated(pg.url(database), dataDir());
    try {
      const c = conversation('shared', 1);
      await a.store.apply([{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: message(c.id, 'from a', 'complete', 1) }]);
      await waitFor('a drained', () => a.store.health().pendingSync === 0);
      await waitFor('b pulled', async () => (await b.store.listMessages(c.id)).length === 1);

      // A is cut off (every call fails fast); its writes wait in the outbox.
      await proxy.setMode('reset');
      const mine = message(c.id, 'from a, offline', 'complete', 3);
      const own = conversation('only on a', 4);
      await a.store.apply([{ kind: 'conversation.upsert', row: { ...c, updatedAt: at(3) } }, { kind: 'message.upsert', row: mine }]);
      await a.store.apply([{ kind: 'conversation.upsert', row: own }]);
      // As the chat service does: the conversation (as read) is written with the message.
      await b.store.apply([{ kind: 'conversation.upsert', row: { ...c, updatedAt: at(2) } }, { kind: 'message.upsert', row: message(c.id, 'from b', 'complete', 2) }]);
      expect(a.store.health().pendingSync).toBe(3);

      expect((await a.store.listMessages(c.id)).map((m) => m.content)).toEqual(['from a', 'from a, offline']);
      expect((await a.store.getConversation(own.id))?.title).toBe('only on a');
      const list = await a.store.listConversations({ limit: 10 });
      expect(list.items.map((x) => x.title)).toEqual(['only on a', 'shared']);

      await proxy.setMode('pass');
      await waitFor('a drained', () => a.store.health().pendingSync === 0 && a.store.health().breaker === 'closed', PATIENCE_MS);
      const expected = ['from a', 'from a, offline', 'from b']; // id (creation) order
      await waitFor('a sees b', async () => JSON.stringify((await a.store.listMessages(c.id)).map((m) => m.content)) === JSON.stringify(expected));
      await waitFor('b sees a', async () => JSON.stringify((await b.store.listMessages(c.id)).map((m) => m.content)) === JSON.stringify(expected));
      const paged: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await b.store.listConversations({ limit: 1, cursor });
        paged.push(...page.items.map((x) => x.title));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      expect(paged).toEqual(['only on a', 'shared']);
    } finally {
      await a.close();
      await b.close();
      await proxy.close();
    }
  });

  it('under a black hole no read waits longer than the query timeout, then the breaker opens', async () => {
    const database = await pg.createDatabase();
    const proxy = await startFaultProxy({ host: pg.host, port: pg.port });
    const opened = await openReplicated(pg.url(database, { port: proxy.port }), dataDir());
    const { store } = opened;
    try {
      const c = conversation();
      await store.apply([{ kind: 'conversation.upsert', row: c }]);
      await waitFor('drained', () => store.health().pendingSync === 0 && store.health().mode === 'primary');
      await proxy.setMode('blackhole');
      // The first read waits for PostgreSQL, up to the query timeout (plus a loaded machine's
      // scheduling: the bound tells a timeout that fires from a hang).
      const started = performance.now();
      expect((await store.getConversation(c.id))?.id).toBe(c.id);
      expect(performance.now() - started).toBeLessThan(FAST.dbQueryTimeoutMs + SCHEDULING_SLACK_MS);
      // The ones after it do not wait for a server already known to be slow, even before the
      // breaker opens: they are answered from SQLite before any timer or socket event could run.
      let later = 0;
      const deadline = Date.now() + PATIENCE_MS;
      while (store.health().breaker === 'closed' && Date.now() < deadline) {
        const read = await settledBeforeTheLoopTurns(store.getConversation(c.id));
        if (read === WAITED) throw new Error('a read waited for PostgreSQL after one had found it slow');
        expect(read?.id).toBe(c.id);
        later++;
        // Let the timers and sockets that open the breaker run.
        await sleep(20);
      }
      expect(later).toBeGreaterThan(0);
      expect(store.health()).toMatchObject({ breaker: 'open', mode: 'fallback' });
      // With the breaker open, no read tries PostgreSQL at all.
      expect(await settledBeforeTheLoopTurns(store.getConversation(c.id))).toMatchObject({ id: c.id });

      await store.apply([{ kind: 'conversation.upsert', row: { ...c, title: 'while open' } }]);
      await proxy.setMode('pass');
      await waitFor('recovered', () => store.health().breaker === 'closed' && store.health().pendingSync === 0, PATIENCE_MS);
      expect(await pg.query(database, 'SELECT title FROM conversations')).toEqual([{ title: 'while open' }]);
    } finally {
      await opened.close();
      await proxy.close();
    }
  });

  it('sets aside a write PostgreSQL refuses for its data and keeps the rest flowing', async () => {
    const database = await pg.createDatabase();
    const opened = await openReplicated(pg.url(database), dataDir());
    const { store } = opened;
    try {
      const c = conversation();
      // SQLite stores a NUL character; PostgreSQL text cannot hold one.
      const poison = message(c.id, 'nul \u0000 byte');
      const fine = message(c.id, 'fine');
      await store.apply([{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: poison }, { kind: 'message.upsert', row: fine }]);
      await waitFor('drained', () => store.health().pendingSync === 0);
      expect(await pg.query(database, 'SELECT content FROM messages')).toEqual([{ content: 'fine' }]);
      expect(store.sync()).toMatchObject({ deadLetters: 1 });
      expect(store.health().breaker).toBe('closed');
    } finally {
      await opened.close();
    }
  });

  it('resumes the outbox after a reopen and switches targets live without losing it', async () => {
    const database = await pg.createDatabase();
    const dir = dataDir();
    const proxy = await startFaultProxy({ host: pg.host, port: pg.port });
    await proxy.setMode('refuse');
    let opened = await openReplicated(pg.url(database, { port: proxy.port }), dir);
    const c = conversation();
    await opened.store.apply([{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: message(c.id, 'kept') }]);
    await opened.close();
    opened = await openReplicated(pg.url(database, { port: proxy.port }), dir);
    try {
      expect(opened.store.health().pendingSync).toBe(2);
      // The old URL stays unreachable; the admin points Orchestra at the server directly.
      await opened.store.reconfigure(pg.url(database));
      await waitFor('drained to the new target', () => opened.store.health().pendingSync === 0);
      expect(await pg.query(database, 'SELECT content FROM messages')).toEqual([{ content: 'kept' }]);
    } finally {
      await opened.close();
      await proxy.close();
    }
  });
});
