import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../backend/data/ids.js';
import { KyselyStore } from '../../backend/data/kysely-store.js';
import { migrate } from '../../backend/data/migrate.js';
import { migrations } from '../../backend/data/migrations/index.js';
import { openPostgres } from '../../backend/data/postgres.js';
import type { Database } from '../../backend/data/schema.js';
import { openSqlite } from '../../backend/data/sqlite.js';
import { newMessage } from '../../backend/data/store.js';
import { startPostgres, type PrivatePostgres } from '../fixtures/services/postgres.js';
import { tempDir } from '../fixtures/test-server.js';

// Migration 3 turns the linear conversations of earlier versions into single branches, on both
// databases: each message's parent is the one before it, the last one is the active leaf.
let pg: PrivatePostgres;

beforeAll(async () => {
  pg = await startPostgres();
});

afterAll(async () => {
  await pg?.stop();
});

async function seedLinear(db: Kysely<Database>): Promise<{ conversations: Array<{ id: string; messages: string[] }> }> {
  const conversations: Array<{ id: string; messages: string[] }> = [];
  for (let c = 0; c < 3; c++) {
    const id = newId();
    const at = new Date().toISOString();
    await sql`INSERT INTO conversations (id, title, created_at, updated_at) VALUES (${id}, ${`c${c}`}, ${at}, ${at})`.execute(db);
    const messages: string[] = [];
    for (let m = 0; m < c * 2; m++) {
      const mid = newId();
      messages.push(mid);
      await sql`INSERT INTO messages (id, conversation_id, role, content, status, created_at, updated_at)
                VALUES (${mid}, ${id}, ${m % 2 === 0 ? 'user' : 'assistant'}, ${`m${m}`}, 'complete', ${at}, ${at})`.execute(db);
    }
    conversations.push({ id, messages });
  }
  return { conversations };
}

async function checkBranches(db: Kysely<Database>, backend: 'sqlite' | 'postgres', seeded: Awaited<ReturnType<typeof seedLinear>>): Promise<void> {
  const store = new KyselyStore(db, backend);
  for (const c of seeded.conversations) {
    const found = await store.getConversationWithMessages(c.id);
    expect(found?.activeLeafId).toBe(c.messages.at(-1) ?? null);
    expect(found?.messages.map((m) => m.id)).toEqual(c.messages);
    expect(found?.messages.map((m) => m.parentId)).toEqual(c.messages.map((_, i) => (i === 0 ? null : c.messages[i - 1])));
  }
}

/** Runs a check on a fresh SQLite file, closed afterwards. */
async function onSqlite(check: (db: Kysely<Database>) => Promise<void>): Promise<void> {
  const { db } = openSqlite(path.join(tempDir(), 'app.db'));
  try {
    await check(db);
  } finally {
    await db.destroy();
  }
}

/** Runs a check on a fresh PostgreSQL database of the suite's server, closed afterwards. */
async function onPostgres(name: string, check: (db: Kysely<Database>) => Promise<void>): Promise<void> {
  const database = await pg.createDatabase(name);
  const target = openPostgres({ url: pg.url(database), connectTimeoutMs: 5000, queryTimeoutMs: 5000, logger: pino({ level: 'silent' }) });
  try {
    await check(target.db);
  } finally {
    await target.close();
  }
}

describe('migration to branches', () => {
  const branches = async (db: Kysely<Database>, backend: 'sqlite' | 'postgres'): Promise<void> => {
    await migrate(db, { migrations: migrations.filter((m) => m.version < 4) });
    const seeded = await seedLinear(db);
    expect(await migrate(db, { migrations: migrations.filter((m) => m.version <= 4) })).toEqual([4]);
    await checkBranches(db, backend, seeded);
  };

  it('makes single branches of linear conversations on SQLite', () => onSqlite((db) => branches(db, 'sqlite')));

  it('makes single branches of linear conversations on PostgreSQL', () => onPostgres('migrate', (db) => branches(db, 'postgres')));
});

/** The index names of the messages table, whichever database holds it. */
async function messageIndexes(db: Kysely<Database>, backend: 'sqlite' | 'postgres'): Promise<string[]> {
  const { rows } =
    backend === 'sqlite'
      ? await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND name NOT LIKE 'sqlite_autoindex%'`.execute(db)
      : await sql<{ name: string }>`SELECT indexname AS name FROM pg_indexes WHERE tablename = 'messages' AND indexname <> 'messages_pkey'`.execute(db);
  return rows.map((r) => r.name).sort();
}

// Migration 7 drops messages_parent: branches are worked out from a conversation's messages, read
// by conversation, so nothing looked messages up by parent, and every insert paid for the entry.
describe('migration 7: the unused parent index', () => {
  const dropsIt = async (db: Kysely<Database>, backend: 'sqlite' | 'postgres'): Promise<void> => {
    await migrate(db, { migrations: migrations.filter((m) => m.version < 4) });
    const seeded = await seedLinear(db);
    await migrate(db, { migrations: migrations.filter((m) => m.version <= 6) });
    expect(await messageIndexes(db, backend)).toContain('messages_parent');
    expect(await migrate(db)).toEqual([7]);
    expect(await messageIndexes(db, backend)).toEqual(['messages_conversation', 'messages_streaming', 'messages_sync']);
    // Branches read as before, and a new branch (a second reply to the same user message) too.
    await checkBranches(db, backend, seeded);
    const store = new KyselyStore(db, backend);
    const longest = seeded.conversations.at(-1)!;
    const user = longest.messages.at(-2)!;
    const at = new Date().toISOString();
    const sibling = newId();
    await store.apply([
      {
        kind: 'message.upsert',
        row: newMessage({ id: sibling, conversationId: longest.id, role: 'assistant', content: 'another', status: 'complete', createdAt: at, parentId: user }),
      },
    ]);
    const found = await store.getConversationWithMessages(longest.id);
    expect(found?.messages.filter((m) => m.parentId === user).map((m) => m.id)).toEqual([longest.messages.at(-1), sibling]);
  };

  it('drops it on SQLite', () => onSqlite((db) => dropsIt(db, 'sqlite')));

  it('drops it on PostgreSQL', () => onPostgres('parent_index', (db) => dropsIt(db, 'postgres')));
});
