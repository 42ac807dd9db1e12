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

describe('migration to branches', () => {
  it('makes single branches of linear conversations on SQLite', async () => {
    const { db } = openSqlite(path.join(tempDir(), 'app.db'));
    try {
      await migrate(db, { migrations: migrations.filter((m) => m.version < 4) });
      const seeded = await seedLinear(db);
      expect(await migrate(db, { migrations: migrations.filter((m) => m.version <= 4) })).toEqual([4]);
      await checkBranches(db, 'sqlite', seeded);
    } finally {
      await db.destroy();
    }
  });

  it('makes single branches of linear conversations on PostgreSQL', async () => {
    const database = await pg.createDatabase('migrate');
    const target = openPostgres({ url: pg.url(database), connectTimeoutMs: 5000, queryTimeoutMs: 5000, logger: pino({ level: 'silent' }) });
    try {
      await migrate(target.db, { migrations: migrations.filter((m) => m.version < 4) });
      const seeded = await seedLinear(target.db);
      expect(await migrate(target.db, { migrations: migrations.filter((m) => m.version <= 4) })).toEqual([4]);
      await checkBranches(target.db, 'postgres', seeded);
    } finally {
      await target.close();
    }
  });
});
