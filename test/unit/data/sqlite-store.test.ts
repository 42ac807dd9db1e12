import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { newId } from '../../../backend/data/ids.js';
import { conversationRow, GROUP_COMMIT_MAX_TURNS, KyselyStore, messageRow } from '../../../backend/data/kysely-store.js';
import { MigrationError, migrate } from '../../../backend/data/migrate.js';
import { migrations } from '../../../backend/data/migrations/index.js';
import { SEARCH_MIGRATIONS_TABLE, sqliteSearchMigrations } from '../../../backend/data/migrations/search.js';
import { indexQueued, SearchIndexer } from '../../../backend/data/search-index.js';
import { kyselyOverSqlite, openSqlite, sqlitePath, withStatementCache, type StatementCache } from '../../../backend/data/sqlite.js';
import type { Database, MessagesTable } from '../../../backend/data/schema.js';
import { DomainError } from '../../../backend/errors.js';
import { httpStatusOf } from '../../../backend/http/errors.js';
import { newMessage, type Conversation, type Message } from '../../../backend/data/store.js';
import { tempDir, waitFor } from '../../fixtures/test-server.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function freshStore(file = path.join(tempDir(), 'app.db')) {
  const { db, raw } = openSqlite(file);
  await migrate(db);
  const store = new KyselyStore(db, 'sqlite');
  open.push(store);
  return { store, db, raw, file };
}

const conversation = (at: string, title = 'c'): Conversation => ({ id: newId(), title, createdAt: at, updatedAt: at });
const message = (conversationId: string, patch: Partial<Message> = {}): Message =>
  newMessage({ id: newId(), conversationId, role: 'user', content: 'hi', status: 'complete', ...patch });

/** Every statement a connection runs, with its parameters, in order. */
type Ran = Array<{ sql: string; parameters: readonly unknown[] }>;

/** A statement cache that records each statement as it runs (whoever runs it: Kysely or the store). */
function recording(cache: StatementCache, ran: Ran): StatementCache {
  return {
    prepare(text: string) {
      const statement = cache.prepare(text);
      return new Proxy(statement, {
        get(target, key) {
          const value: unknown = Reflect.get(target, key, target);
          if (key !== 'run' && key !== 'all' && key !== 'get') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          return (...args: unknown[]) => {
            ran.push({ sql: text, parameters: Array.isArray(args[0]) ? (args[0] as unknown[]) : args });
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    },
    close: () => cache.close(),
  };
}

/**
 * How the store reaches SQLite: a connection openSqlite made runs the group commit's statements
 * itself (`direct`); any other Kysely instance goes through Kysely statement by statement.
 */
const paths = ['direct', 'kysely'] as const;

/** A store over a fresh database that records every SQL statement it runs, in order. */
async function loggedStore(how: (typeof paths)[number]): Promise<{ store: KyselyStore; db: Kysely<Database>; ran: Ran; sqls: () => string[] }> {
  const { raw } = await freshStore();
  const ran: Ran = [];
  const cache = recording(withStatementCache(raw), ran);
  const db = how === 'direct' ? kyselyOverSqlite(raw, cache) : new Kysely<Database>({ dialect: new SqliteDialect({ database: cache }) });
  return { store: new KyselyStore(db, 'sqlite'), db, ran, sqls: () => ran.map((r) => r.sql) };
}

describe('SQLite store', () => {
  it('opens with WAL, a busy timeout and foreign keys on', async () => {
    const { raw } = await freshStore();
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(raw.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it('parses sqlite URLs', () => {
    expect(sqlitePath('sqlite:///tmp/x/app.db')).toBe('/tmp/x/app.db');
    expect(sqlitePath('sqlite://rel.db', '/base')).toBe('/base/rel.db');
    expect(sqlitePath('sqlite::memory:')).toBe(':memory:');
  });

  it('applies migrations once and refuses an edited one', async () => {
    const { db } = await freshStore();
    expect(await migrate(db)).toEqual([]);
    const edited = migrations.map((m) => ({ ...m, statements: [...m.statements, 'SELECT 1'] }));
    await expect(migrate(db, { migrations: edited })).rejects.toThrow(MigrationError);
    await expect(migrate(db, { migrations: edited })).rejects.toThrow(/was changed after it was applied/);
  });

  it('refuses a database written by a newer version', async () => {
    const { db } = await freshStore();
    await sql`INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (999, 'future', 'x', 'now')`.execute(db);
    await expect(migrate(db)).rejects.toThrow(/newer Orchestra/);
  });

  it('upserts idempotently: replaying a write creates no duplicate', async () => {
    const { store } = await freshStore();
    const c = conversation(new Date().toISOString());
    const m = message(c.id);
    const batch = [
      { kind: 'conversation.upsert' as const, row: c },
      { kind: 'message.upsert' as const, row: m },
    ];
    await store.apply(batch);
    await store.apply(batch);
    await store.apply([{ kind: 'message.upsert', row: { ...m, content: 'edited' } }]);
    const full = await store.getConversationWithMessages(c.id);
    expect(full?.messages).toHaveLength(1);
    expect(full?.messages[0]?.content).toBe('edited');
  });

  it('rolls a failed batch back whole', async () => {
    const { store } = await freshStore();
    const c = conversation(new Date().toISOString());
    await expect(
      store.apply([
        { kind: 'conversation.upsert', row: c },
        // a message pointing at a conversation that does not exist violates the foreign key
        { kind: 'message.upsert', row: message(newId()) },
      ]),
    ).rejects.toThrow();
    expect(await store.getConversation(c.id)).toBeUndefined();
  });

  it('pages conversations newest first with a stable cursor', async () => {
    const { store } = await freshStore();
    const base = Date.parse('2026-01-01T00:00:00Z');
    const all: Conversation[] = [];
    for (let i = 0; i < 7; i++) {
      // two share a timestamp so the id breaks the tie
      const c = conversation(new Date(base + Math.floor(i / 2) * 1000).toISOString(), `c${i}`);
      all.push(c);
      await store.apply([{ kind: 'conversation.upsert', row: c }]);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await store.listConversations({ limit: 3, cursor });
      seen.push(...page.items.map((c) => c.id));
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    const expected = [...all].sort((a, b) => (a.updatedAt === b.updatedAt ? (a.id < b.id ? 1 : -1) : a.updatedAt < b.updatedAt ? 1 : -1));
    expect(seen).toEqual(expected.map((c) => c.id));
  });

  it('deletes a conversation with its messages', async () => {
    const { store } = await freshStore();
    const c = conversation(new Date().toISOString());
    await store.apply([
      { kind: 'conversation.upsert', row: c },
      { kind: 'message.upsert', row: message(c.id) },
    ]);
    await store.apply([{ kind: 'conversation.delete', id: c.id }]);
    expect(await store.getConversation(c.id)).toBeUndefined();
    expect(await store.listMessages(c.id)).toEqual([]);
  });

  it('marks replies left streaming as interrupted', async () => {
    const { store } = await freshStore();
    const c = conversation(new Date().toISOString());
    const streaming = message(c.id, { role: 'assistant', status: 'streaming', content: 'half' });
    await store.apply([
      { kind: 'conversation.upsert', row: c },
      { kind: 'message.upsert', row: message(c.id) },
      { kind: 'message.upsert', row: streaming },
    ]);
    expect(await store.markInterrupted()).toBe(1);
    const messages = await store.listMessages(c.id);
    expect(messages.find((m) => m.id === streaming.id)?.status).toBe('interrupted');
    expect(messages.find((m) => m.id === streaming.id)?.content).toBe('half');
  });

  it('round-trips JSON columns', async () => {
    const { store } = await freshStore();
    const c = conversation(new Date().toISOString());
    const m = message(c.id, { validation: { verdict: 'fail', findings: [{ line: 3 }] }, error: { code: 'x', message: 'y' }, status: 'error' });
    await store.apply([
      { kind: 'conversation.upsert', row: c },
      { kind: 'message.upsert', row: m },
    ]);
    const [stored] = await store.listMessages(c.id);
    expect(stored?.validation).toEqual({ verdict: 'fail', findings: [{ line: 3 }] });
    expect(stored?.error).toEqual({ code: 'x', message: 'y' });
  });

  it('rejects a malformed cursor with a 400', async () => {
    const { store } = await freshStore();
    const refused: unknown = await store.listConversations({ limit: 5, cursor: 'bm9waXBl' }).then(() => undefined, (err: unknown) => err);
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ kind: 'invalid', code: 'invalid-request' });
    expect(httpStatusOf(refused as DomainError)).toBe(400);
  });

  // Both ways of reaching SQLite run the same statements, grouped the same way.
  describe.each(paths)('group commit (%s)', (how) => {
    it('commits writes asked for together in one transaction, each caller seeing its own result', async () => {
      const { store, ran, sqls } = await loggedStore(how);
      const at = new Date().toISOString();
      const rows = Array.from({ length: 10 }, () => conversation(at));
      const written = await Promise.allSettled(rows.map((row) => store.apply([{ kind: 'conversation.upsert', row }])));
      expect(written.every((r) => r.status === 'fulfilled')).toBe(true);
      expect(sqls().filter((q) => q === 'commit')).toHaveLength(1);
      for (const row of rows) expect((await store.getConversation(row.id))?.title).toBe('c');

      // A write that breaks a constraint fails alone; the others in its transaction are kept.
      ran.length = 0;
      const before = conversation(at, 'before');
      const after = conversation(at, 'after');
      const orphan = message(newId());
      const [a, bad, b] = await Promise.allSettled([
        store.apply([{ kind: 'conversation.upsert', row: before }]),
        store.apply([{ kind: 'message.upsert', row: orphan }]),
        store.apply([{ kind: 'conversation.upsert', row: after }]),
      ]);
      expect(a.status).toBe('fulfilled');
      expect(b.status).toBe('fulfilled');
      expect(bad.status).toBe('rejected');
      expect(sqls().filter((q) => q === 'rollback').length).toBeGreaterThanOrEqual(2);
      expect((await store.getConversation(before.id))?.title).toBe('before');
      expect((await store.getConversation(after.id))?.title).toBe('after');
      expect(await store.getMessage(orphan.id)).toBeUndefined();
      // A single failing write is rolled back and reported as it is.
      await expect(store.apply([{ kind: 'message.upsert', row: message(newId()) }])).rejects.toThrow(/FOREIGN KEY/);
    });

    it('commits in one transaction the writes of separate callbacks run in the same turn of the event loop', async () => {
      const { store, sqls } = await loggedStore(how);
      const at = new Date().toISOString();
      const rows = Array.from({ length: 3 }, () => conversation(at));
      // Like two requests whose handlers run one after the other in one poll of the event loop:
      // each callback ends (and its microtasks run) before the next one starts.
      const written = await Promise.all(
        rows.map((row) => new Promise<void>((resolve, reject) => setImmediate(() => store.apply([{ kind: 'conversation.upsert', row }]).then(resolve, reject)))),
      );
      expect(written).toHaveLength(3);
      expect(sqls().filter((q) => q === 'commit')).toHaveLength(1);
      for (const row of rows) expect((await store.getConversation(row.id))?.id).toBe(row.id);
    });

    it('waits further turns of the event loop while writes keep coming, up to a limit, and not for a lone write', async () => {
      const { store, ran, sqls } = await loggedStore(how);
      const at = new Date().toISOString();
      const commits = (): number => sqls().filter((q) => q === 'commit').length;
      // One write per turn of the loop, as requests arriving one poll after another. Each next write
      // is scheduled before the store looks again, as an I/O callback of the next turn runs before
      // its setImmediate callbacks. The first write and those of the GROUP_COMMIT_MAX_TURNS turns
      // after it share a transaction; the rest go into the next one.
      const rows = Array.from({ length: GROUP_COMMIT_MAX_TURNS + 3 }, () => conversation(at));
      const writes: Array<Promise<void>> = [];
      await new Promise<void>((resolve) => {
        const next = (i: number): void => {
          const row = rows[i];
          if (row === undefined) return resolve();
          setImmediate(() => next(i + 1));
          writes.push(store.apply([{ kind: 'conversation.upsert', row }]));
        };
        next(0);
      });
      await Promise.all(writes);
      expect(commits()).toBe(2);
      const firstCommit = sqls().indexOf('commit');
      expect(sqls().slice(0, firstCommit).filter((q) => q.startsWith('insert'))).toHaveLength(GROUP_COMMIT_MAX_TURNS + 1);
      for (const row of rows) expect((await store.getConversation(row.id))?.id).toBe(row.id);

      // A write with nothing after it is committed after one turn of the loop.
      ran.length = 0;
      let turnsWaited = 0;
      let counting = true;
      const count = (): void => {
        if (!counting) return;
        turnsWaited++;
        setImmediate(count);
      };
      const lone = store.apply([{ kind: 'conversation.upsert', row: conversation(at) }]);
      setImmediate(count);
      await lone;
      counting = false;
      expect(commits()).toBe(1);
      expect(turnsWaited).toBeLessThanOrEqual(1);
    });

    it('runs for each write the statement and parameters Kysely builds for it, built once and refilled', async () => {
      const { store, db, ran: all } = await loggedStore(how);
      const at = new Date().toISOString();
      const c = conversation(at, 'first');
      const m = message(c.id, { role: 'assistant', content: '', status: 'streaming', model: 'm1', progress: { seq: 0, ends: [1] } });
      const finished: Message = { ...m, content: 'the whole reply', status: 'complete', model: null, promptTokens: 3, validation: { verdict: 'pass' } };
      const renamed: Conversation = { ...c, title: 'second', systemPrompt: 'be brief', activeLeafId: m.id };
      await store.apply([{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: m }]);
      await store.apply([{ kind: 'message.upsert', row: finished }]);
      await store.apply([{ kind: 'conversation.upsert', row: renamed }]);
      // A value left undefined is left out of the statement (Kysely's rule): another statement.
      const unnamed = { ...finished, content: 'edited', model: undefined } as unknown as Message;
      await store.apply([{ kind: 'message.upsert', row: unnamed }]);
      await store.apply([{ kind: 'message.upsert', row: finished }]);

      const { id: _i, created_at: _ca, ...cChanges } = conversationRow(c);
      const { id: _j, created_at: _cb, ...rChanges } = conversationRow(renamed);
      // A rewrite leaves out what never changes: id, conversation, role, parent, creation time.
      const built = (row: MessagesTable) => {
        const { id: _k, conversation_id: _cc, created_at: _cd, role: _r, parent_id: _p, ...changes } = row;
        return db.insertInto('messages').values(row).onConflict((oc) => oc.column('id').doUpdateSet(changes)).compile();
      };
      const expected = [
        db.insertInto('conversations').values(conversationRow(c)).onConflict((oc) => oc.column('id').doUpdateSet(cChanges)).compile(),
        built(messageRow(m)),
        built(messageRow(finished)),
        db.insertInto('conversations').values(conversationRow(renamed)).onConflict((oc) => oc.column('id').doUpdateSet(rChanges)).compile(),
        built(messageRow(unnamed)),
        built(messageRow(finished)),
      ];
      const ran = all.filter((r) => r.sql.startsWith('insert'));
      expect(ran[4]?.sql).not.toContain('"model"');
      expect(ran).toEqual(expected.map((q) => ({ sql: q.sql, parameters: q.parameters })));
      // And the rows hold the values of the last writes, not those of the first.
      expect(await store.getMessage(m.id)).toMatchObject({ content: 'the whole reply', status: 'complete', model: null, promptTokens: 3, validation: { verdict: 'pass' } });
      expect(await store.getConversation(c.id)).toMatchObject({ title: 'second', systemPrompt: 'be brief', activeLeafId: m.id });
    });

    it('stores a message written again and one written for the first time alike, whatever their times say', async () => {
      const { store, sqls } = await loggedStore(how);
      const at = '2026-01-01T00:00:00.000Z';
      const later = '2026-01-01T00:00:05.000Z';
      const c = conversation(at);
      const placeholder = message(c.id, { role: 'assistant', content: '', status: 'streaming', model: 'm1', createdAt: at, updatedAt: at, progress: { seq: 0, ends: [2] } });
      await store.apply([{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: placeholder }]);
      // The reply's final write, and a message first stored with times that differ (an import).
      const finished: Message = { ...placeholder, content: 'done', status: 'complete', completionTokens: 1, updatedAt: later };
      const imported = message(c.id, { content: 'from an export', createdAt: at, updatedAt: later });
      const before = sqls().length;
      await store.apply([{ kind: 'message.upsert', row: finished }, { kind: 'message.upsert', row: imported }]);
      const ran = sqls()
        .slice(before)
        .filter((q) => q !== 'begin' && q !== 'commit')
        .map((q) => q.split(' ')[0]);
      // Directly, a rewrite is an update; an update that finds no row falls back to the insert.
      expect(ran).toEqual(how === 'direct' ? ['update', 'update', 'insert'] : ['insert', 'insert']);
      const stored = await store.getMessage(finished.id);
      expect(stored).toMatchObject({ content: 'done', status: 'complete', completionTokens: 1, model: 'm1', role: 'assistant', createdAt: at, updatedAt: later });
      expect(stored?.progress).toBeUndefined();
      expect(await store.getMessage(imported.id)).toMatchObject({ content: 'from an export', role: 'user', createdAt: at, updatedAt: later });
      // Writing either again changes nothing.
      await store.apply([{ kind: 'message.upsert', row: finished }, { kind: 'message.upsert', row: imported }]);
      expect(await store.listMessages(c.id)).toHaveLength(2);
    });
  });

  it('runs a group commit only between the queries and transactions other code runs through Kysely', async () => {
    const { store, db, sqls } = await loggedStore('direct');
    const at = new Date().toISOString();
    const outside = conversation(at, 'outside');
    const grouped = conversation(at, 'grouped');
    let write: Promise<void> | undefined;
    // A transaction that spans turns of the event loop, with a group commit due in the middle.
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('conversations').values(conversationRow(outside)).execute();
      write = store.apply([{ kind: 'conversation.upsert', row: grouped }]);
      for (let i = 0; i < GROUP_COMMIT_MAX_TURNS + 2; i++) await new Promise((resolve) => setImmediate(resolve));
      await trx.selectFrom('conversations').select('id').execute();
    });
    await write;
    const order = sqls().filter((q) => q === 'begin' || q === 'commit' || q.startsWith('insert'));
    expect(order).toEqual(['begin', expect.stringMatching(/^insert/), 'commit', 'begin', expect.stringMatching(/^insert/), 'commit']);
    expect((await store.getConversation(outside.id))?.title).toBe('outside');
    expect((await store.getConversation(grouped.id))?.title).toBe('grouped');
  });

  it('prepares each statement once and keeps a bounded number of them', async () => {
    const { raw } = await freshStore();
    const cache = withStatementCache(raw, 2);
    const first = cache.prepare('SELECT 1');
    expect(cache.prepare('SELECT 1')).toBe(first);
    cache.prepare('SELECT 2');
    cache.prepare('SELECT 3');
    expect(cache.prepare('SELECT 1')).not.toBe(first);
    // A kept statement still runs after a migration changes the schema under it.
    const insert = cache.prepare("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, 't', 'x', 'x')");
    insert.run(newId());
    raw.exec('ALTER TABLE conversations ADD COLUMN extra TEXT');
    expect(cache.prepare("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, 't', 'x', 'x')").run(newId()).changes).toBe(1);
  });

  it('keeps the full-text index exact when rewrites leave the text as it was', async () => {
    const { store, db, raw } = await freshStore();
    await migrate(db, { migrations: sqliteSearchMigrations, table: SEARCH_MIGRATIONS_TABLE });
    const at = new Date().toISOString();
    const c = conversation(at, 'lighthouse keeper');
    const m = message(c.id, { role: 'assistant', content: '', status: 'streaming' });
    await store.apply([{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: m }]);
    // Progress, the same text again with a new status, then a later turn touching only updatedAt.
    await store.apply([{ kind: 'message.upsert', row: { ...m, content: 'the foghorn sounds' } }]);
    await store.apply([{ kind: 'message.upsert', row: { ...m, content: 'the foghorn sounds', status: 'complete' } }]);
    await store.apply([{ kind: 'conversation.upsert', row: { ...c, updatedAt: new Date(Date.now() + 1000).toISOString() } }]);
    // With rank 1, FTS5 also checks the index against the rows it indexes (once the queue is in).
    const check = (table: string): void => void raw.prepare(`INSERT INTO ${table} (${table}, rank) VALUES ('integrity-check', 1)`).run();
    expect(await indexQueued(db)).toBe(2);
    expect(() => check('messages_fts')).not.toThrow();
    expect(() => check('conversations_fts')).not.toThrow();
    expect((await store.search('foghorn', 10)).map((h) => h.messageId)).toEqual([m.id]);
    expect((await store.search('lighthouse', 10)).map((h) => h.conversationId)).toEqual([c.id]);

    // Changed text is still re-indexed: the old words are gone, the new ones found.
    await store.apply([{ kind: 'message.upsert', row: { ...m, content: 'a quiet harbour', status: 'complete' } }]);
    await store.apply([{ kind: 'conversation.upsert', row: { ...c, title: 'harbour master' } }]);
    expect(await store.search('foghorn', 10)).toEqual([]);
    expect(await store.search('lighthouse', 10)).toEqual([]);
    expect(new Set((await store.search('harbour', 10)).map((h) => h.conversationId))).toEqual(new Set([c.id]));
    expect(() => check('messages_fts')).not.toThrow();
    expect(() => check('conversations_fts')).not.toThrow();
  });

  it('queues full-text changes with the rows and indexes them in order, before every search', async () => {
    const { store, db, raw } = await freshStore();
    await migrate(db, { migrations: sqliteSearchMigrations, table: SEARCH_MIGRATIONS_TABLE });
    const queued = (): number => (raw.prepare('SELECT count(*) AS n FROM search_queue').get() as { n: number }).n;
    const indexed = (): number => (raw.prepare("SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH 'puffin'").get() as { n: number }).n;
    const at = new Date().toISOString();
    const c = conversation(at, 'seabirds');
    const a = message(c.id, { content: 'a puffin dives' });
    const b = message(c.id, { content: 'another puffin' });
    await store.apply([{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: a }, { kind: 'message.upsert', row: b }]);
    // The writes only queued their text: the index has not changed yet.
    expect(queued()).toBe(3);
    expect(indexed()).toBe(0);
    // Edit one, delete the conversation's other message, all still queued: the queue replays
    // removal before new text, as the rows changed.
    await store.apply([{ kind: 'message.upsert', row: { ...a, content: 'a guillemot dives' } }]);
    raw.prepare('DELETE FROM messages WHERE id = ?').run(b.id);
    expect(queued()).toBe(6);
    const hits = await store.search('guillemot puffin seabirds', 10);
    expect(hits).toEqual([]);
    expect(queued()).toBe(0);
    expect((await store.search('guillemot', 10)).map((h) => h.messageId)).toEqual([a.id]);
    expect(await store.search('puffin', 10)).toEqual([]);
    expect((await store.search('seabirds', 10)).map((h) => h.conversationId)).toEqual([c.id]);
    expect(() => raw.prepare("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)").run()).not.toThrow();
    // A failed write queues nothing: the queue is written in the row's transaction.
    const bad = message(newId(), { content: 'an orphan puffin' });
    await expect(store.apply([{ kind: 'message.upsert', row: bad }])).rejects.toThrow();
    expect(queued()).toBe(0);
  });

  it('indexes a reply when it has finished, not while it streams', async () => {
    const { store, db, raw } = await freshStore();
    await migrate(db, { migrations: sqliteSearchMigrations, table: SEARCH_MIGRATIONS_TABLE });
    const queued = (): number => (raw.prepare('SELECT count(*) AS n FROM search_queue').get() as { n: number }).n;
    const at = new Date().toISOString();
    const c = conversation(at, 'weather');
    const reply = message(c.id, { role: 'assistant', content: '', status: 'streaming' });
    await store.apply([{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: reply }]);
    await indexQueued(db);
    // Progress writes rewrite the draft several times a second: none of them is indexed.
    for (const text of ['fog', 'fog rolls', 'fog rolls over the bay']) {
      await store.apply([{ kind: 'message.upsert', row: { ...reply, content: text, progress: { seq: 0, ends: [text.length] } } }]);
    }
    expect(queued()).toBe(0);
    expect(await store.search('fog', 10)).toEqual([]);
    // Finished, whatever the outcome: the final text is found.
    await store.apply([{ kind: 'message.upsert', row: { ...reply, content: 'fog rolls over the bay', status: 'cancelled' } }]);
    expect((await store.search('bay', 10)).map((h) => h.messageId)).toEqual([reply.id]);
    // A reply a restart finds streaming is marked interrupted, and indexed then.
    const left = message(c.id, { role: 'assistant', content: 'half a sentence about hail', status: 'streaming' });
    await store.apply([{ kind: 'message.upsert', row: left }]);
    expect(await store.search('hail', 10)).toEqual([]);
    expect(await store.markInterrupted()).toBe(1);
    expect((await store.search('hail', 10)).map((h) => h.messageId)).toEqual([left.id]);
    // Deleting the conversation removes both, and a streaming reply deleted was never indexed.
    const draft = message(c.id, { role: 'assistant', content: 'drizzle', status: 'streaming' });
    await store.apply([{ kind: 'message.upsert', row: draft }]);
    await store.apply([{ kind: 'conversation.delete', id: c.id }]);
    expect(await store.search('bay hail drizzle weather', 10)).toEqual([]);
    for (const table of ['messages_fts', 'conversations_fts']) {
      expect(() => raw.prepare(`INSERT INTO ${table} (${table}, rank) VALUES ('integrity-check', 1)`).run()).not.toThrow();
    }
  });

  it('upgrades an index that held streaming replies: they leave it, and come back when finished', async () => {
    const { store, db, raw } = await freshStore();
    await migrate(db, { migrations: sqliteSearchMigrations.filter((m) => m.version < 3), table: SEARCH_MIGRATIONS_TABLE });
    const c = conversation(new Date().toISOString(), 'ledger');
    const done = message(c.id, { content: 'the ledger balances' });
    const streaming = message(c.id, { role: 'assistant', content: 'the ledger is half', status: 'streaming' });
    await store.apply([{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: done }, { kind: 'message.upsert', row: streaming }]);
    const matches = (word: string): number => (raw.prepare('SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH ?').get(word) as { n: number }).n;
    // The former triggers indexed every row as it was written.
    expect(matches('half')).toBe(1);
    await migrate(db, { migrations: sqliteSearchMigrations, table: SEARCH_MIGRATIONS_TABLE });
    expect(matches('half')).toBe(0);
    expect(matches('balances')).toBe(1);
    await store.apply([{ kind: 'message.upsert', row: { ...streaming, content: 'the ledger is half done', status: 'complete' } }]);
    expect((await store.search('half', 10)).map((h) => h.messageId)).toEqual([streaming.id]);
    expect(() => raw.prepare("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)").run()).not.toThrow();
  });

  it('indexes queued rows a moment after they are written, without a search, and stops with the connection', async () => {
    const file = path.join(tempDir(), 'app.db');
    const errors: Error[] = [];
    const indexer = new SearchIndexer((err) => errors.push(err), 20);
    const { db, raw } = openSqlite(file, { searchIndex: indexer });
    await migrate(db);
    await migrate(db, { migrations: sqliteSearchMigrations, table: SEARCH_MIGRATIONS_TABLE });
    indexer.attach(db);
    const store = new KyselyStore(db, 'sqlite');
    const queued = (): number => (raw.prepare('SELECT count(*) AS n FROM search_queue').get() as { n: number }).n;
    const c = conversation(new Date().toISOString(), 'tides');
    await store.apply([{ kind: 'conversation.upsert', row: c }]);
    expect(queued()).toBe(1);
    await waitFor(() => (queued() === 0 ? true : undefined), 'the queue to be indexed');
    expect((raw.prepare("SELECT count(*) AS n FROM conversations_fts WHERE conversations_fts MATCH 'tides'").get() as { n: number }).n).toBe(1);
    // With the queue empty the indexer goes quiet: a batch that found nothing schedules no other.
    await waitFor(() => (indexer.scheduled ? undefined : true), 'the indexer to settle');
    // A write just before the connection closes stays queued (durably) and no batch runs after.
    await store.apply([{ kind: 'conversation.upsert', row: conversation(new Date().toISOString(), 'currents') }]);
    await store.close();
    const reopened = openSqlite(file);
    open.push({ close: () => reopened.db.destroy() });
    expect((reopened.raw.prepare('SELECT count(*) AS n FROM search_queue').get() as { n: number }).n).toBe(1);
    expect(errors).toEqual([]);
  });
});
