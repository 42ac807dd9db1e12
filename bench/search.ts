import { sql, type Kysely } from 'kysely';
import { pathToFileURL } from 'node:url';
import { newId } from '../backend/data/ids.js';
import { KyselyStore } from '../backend/data/kysely-store.js';
import { migrate } from '../backend/data/migrate.js';
import { SEARCH_MIGRATIONS_TABLE, sqliteSearchMigrations } from '../backend/data/migrations/search.js';
import { openPostgres, preparePostgres } from '../backend/data/postgres.js';
import type { Database } from '../backend/data/schema.js';
import { openSqlite } from '../backend/data/sqlite.js';
import { newMessage, type Mutation } from '../backend/data/store.js';
import { startPostgres } from '../test/fixtures/services/postgres.js';
import { silent, tempDir } from '../test/integration/postgres/helpers.js';
import { line, percentile } from './lib.js';

/**
 * Search over 100,000 messages (target p50 < 20 ms) on SQLite and on PostgreSQL. The baseline in
 * the same run is the query an index-less search would be: a LIKE scan over the same rows.
 */
const MESSAGES = Number(process.env.SEARCH_BENCH_MESSAGES ?? 100_000);
const PER_CONVERSATION = 20;

function vocabulary(): string[] {
  const syllables = ['ka', 'lo', 'mi', 'ren', 'tor', 'sa', 'vi', 'bel', 'qu', 'dan', 'ex', 'fy', 'go', 'hu', 'jo', 'pre', 'stra', 'ul'];
  const words: string[] = [];
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 0; i < 3000; i++) {
    const n = 2 + rand(3);
    let w = '';
    for (let j = 0; j < n; j++) w += syllables[rand(syllables.length)] ?? '';
    words.push(w);
  }
  return words;
}

const CJK = ['数据库', '对话', '记录', '搜索', '索引', '服务器'];

function* batches(words: string[]): Generator<Mutation[]> {
  let seed = 11;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let batch: Mutation[] = [];
  for (let c = 0; c < MESSAGES / PER_CONVERSATION; c++) {
    const now = new Date(Date.UTC(2026, 0, 1) + c * 1000).toISOString();
    const id = newId();
    batch.push({ kind: 'conversation.upsert', row: { id, title: `${words[rand(words.length)]} ${words[rand(words.length)]}`, createdAt: now, updatedAt: now } });
    let parent: string | null = null;
    for (let m = 0; m < PER_CONVERSATION; m++) {
      const text = Array.from({ length: 12 + rand(30) }, () => (rand(40) === 0 ? (CJK[rand(CJK.length)] ?? '') : (words[rand(words.length)] ?? ''))).join(' ');
      const msg = newMessage({ id: newId(), conversationId: id, role: m % 2 === 0 ? 'user' : 'assistant', content: text, status: 'complete', createdAt: now, parentId: parent });
      parent = msg.id;
      batch.push({ kind: 'message.upsert', row: msg });
    }
    if (batch.length >= 2000) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

async function measure(store: KyselyStore, db: Kysely<Database>, words: string[], like: (term: string) => Promise<unknown>): Promise<{ p50: number; p95: number; baseline: number }> {
  const queries = Array.from({ length: 60 }, (_, i) => (i % 10 === 9 ? (CJK[i % CJK.length] ?? '') : i % 3 === 0 ? `${words[i * 37] ?? ''} ${words[i * 53] ?? ''}` : (words[i * 41] ?? '')));
  for (const q of queries.slice(0, 5)) await store.search(q, 20);
  const times: number[] = [];
  for (const q of queries) {
    const started = performance.now();
    await store.search(q, 20);
    times.push(performance.now() - started);
  }
  const base: number[] = [];
  for (const q of queries.slice(0, 10)) {
    const started = performance.now();
    await like(q.split(' ')[0] ?? q);
    base.push(performance.now() - started);
  }
  void db;
  return { p50: percentile(times, 0.5), p95: percentile(times, 0.95), baseline: percentile(base, 0.5) };
}

function report(name: string, r: { p50: number; p95: number; baseline: number }): void {
  line(
    `search p50 over ${MESSAGES} messages (${name})`,
    `p50 ${r.p50.toFixed(2)} ms, p95 ${r.p95.toFixed(2)} ms; LIKE scan ${r.baseline.toFixed(1)} ms (${(r.baseline / r.p50).toFixed(0)}x)`,
    r.p50 < 20 ? 'ok (< 20 ms)' : 'MISSED (target < 20 ms)',
  );
}

export async function searchBench(): Promise<void> {
  const words = vocabulary();
  const dir = tempDir('orchestra-bench-search-');
  const { db } = openSqlite(`${dir.dir}/app.db`);
  try {
    await migrate(db);
    await migrate(db, { migrations: sqliteSearchMigrations, table: SEARCH_MIGRATIONS_TABLE });
    const store = new KyselyStore(db, 'sqlite');
    for (const batch of batches(words)) await store.apply(batch);
    report('SQLite FTS5 unicode61', await measure(store, db, words, (t) => sql`SELECT id FROM messages WHERE content LIKE ${`%${t}%`} LIMIT 20 OFFSET 100000`.execute(db)));
  } finally {
    await db.destroy();
    dir.remove();
  }

  const pg = await startPostgres();
  try {
    const database = await pg.createDatabase('searchbench');
    const target = openPostgres({ url: pg.url(database), connectTimeoutMs: 5000, queryTimeoutMs: 60_000, logger: silent });
    try {
      await preparePostgres(target.db);
      const store = new KyselyStore(target.db, 'postgres');
      for (const batch of batches(words)) await store.apply(batch);
      await sql`ANALYZE`.execute(target.db);
      report('PostgreSQL tsvector simple', await measure(store, target.db, words, (t) => sql`SELECT id FROM messages WHERE content ILIKE ${`%${t}%`} LIMIT 20 OFFSET 100000`.execute(target.db)));
    } finally {
      await target.close();
    }
  } finally {
    await pg.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await searchBench();
