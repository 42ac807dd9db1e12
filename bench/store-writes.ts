import path from 'node:path';
import { newId } from '../backend/data/ids.js';
import { KyselyStore } from '../backend/data/kysely-store.js';
import { migrate } from '../backend/data/migrate.js';
import { SEARCH_MIGRATIONS_TABLE, sqliteSearchMigrations } from '../backend/data/migrations/search.js';
import { indexQueued, SearchIndexer } from '../backend/data/search-index.js';
import { openSqlite } from '../backend/data/sqlite.js';
import { newMessage, type Conversation, type Message } from '../backend/data/store.js';
import { tempDir } from '../test/integration/postgres/helpers.js';
import { line } from './lib.js';

/**
 * The SQLite writes of chat turns through the store, as the server makes them: per turn a new
 * conversation, the user message and the reply's placeholder, then the reply's final text; 16
 * turns in flight, so group commit takes several turns per transaction. The figure is the CPU
 * time per turn with full-text search kept up (the queue, indexed in batches) against the same
 * writes on a database with no full-text index at all, measured in the same run. Target: the
 * index costs at most half again what the rows cost (<= 1.5x).
 */
const TURNS = Number(process.env.STORE_BENCH_TURNS ?? 20_000);
const IN_FLIGHT = 16;

async function openStore(withSearch: boolean): Promise<{ store: KyselyStore; close(): Promise<void> }> {
  const dir = tempDir('orchestra-store-bench-');
  const file = path.join(dir.dir, 'app.db');
  const indexer = new SearchIndexer((err) => {
    throw err;
  });
  const { db, raw } = openSqlite(file, { backgroundCheckpoints: true, searchIndex: indexer });
  await migrate(db);
  await migrate(db, { migrations: sqliteSearchMigrations, table: SEARCH_MIGRATIONS_TABLE });
  if (!withSearch) {
    for (const { name } of raw.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_search_%'").all() as Array<{ name: string }>) {
      raw.exec(`DROP TRIGGER ${name}`);
    }
  }
  indexer.attach(db);
  const store = new KyselyStore(db, 'sqlite');
  return {
    store,
    close: async () => {
      await store.close();
      dir.remove();
    },
  };
}

/** CPU µs per turn for TURNS turns, IN_FLIGHT at a time. */
async function run(store: KyselyStore, turns: number): Promise<number> {
  const started = process.cpuUsage();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < turns) {
      next++;
      const at = new Date().toISOString();
      const conversation: Conversation = { id: newId(), title: 'A short question', createdAt: at, updatedAt: at };
      const user = newMessage({ id: newId(), conversationId: conversation.id, role: 'user', content: 'A short question', status: 'complete', createdAt: at, parentId: null });
      const reply: Message = newMessage({ id: newId(), conversationId: conversation.id, role: 'assistant', content: '', status: 'streaming', model: 'fake-model', createdAt: at, parentId: user.id });
      conversation.activeLeafId = reply.id;
      await store.apply([
        { kind: 'conversation.upsert', row: conversation },
        { kind: 'message.upsert', row: user },
        { kind: 'message.upsert', row: reply },
      ]);
      await store.apply([{ kind: 'message.upsert', row: { ...reply, content: 'tok0 tok1 tok2 tok3 tok4 ', status: 'complete', completionTokens: 5, updatedAt: new Date().toISOString() } }]);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  // What is still queued is part of the cost.
  await indexQueued(store.db).catch(() => 0);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / turns;
}

export async function storeWritesBench(): Promise<void> {
  const results = { indexed: [] as number[], bare: [] as number[] };
  // Alternating, best of three each: other work on the machine only ever adds time.
  for (let round = 0; round < 3; round++) {
    for (const withSearch of [false, true]) {
      const opened = await openStore(withSearch);
      try {
        await run(opened.store, 1000);
        (withSearch ? results.indexed : results.bare).push(await run(opened.store, TURNS));
      } finally {
        await opened.close();
      }
    }
  }
  const indexed = Math.min(...results.indexed);
  const bare = Math.min(...results.bare);
  const ratio = indexed / bare;
  line(
    'SQLite writes per chat turn, searchable',
    `${indexed.toFixed(0)} vs ${bare.toFixed(0)} µs CPU without full-text`,
    `${ratio.toFixed(2)}x (target <= 1.5x) ${ratio <= 1.5 ? 'PASS' : 'MISS'}`,
  );
}
