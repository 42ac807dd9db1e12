import type { Migration } from './index.js';

/**
 * Tables that only the local SQLite replica of PostgreSQL mode has: the outbox of writes waiting
 * for PostgreSQL, the writes PostgreSQL refused, and the pull cursor. They are versioned in their
 * own table (schema_migrations_local) so the shared set stays identical on both databases.
 */
export const LOCAL_MIGRATIONS_TABLE = 'schema_migrations_local';

export const localMigrations: Migration[] = [
  {
    version: 1,
    name: 'outbox',
    statements: [
      // AUTOINCREMENT: a seq is never reused, so replay order is creation order even after deletes.
      `CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        conversation_id TEXT,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL
      )`,
      `CREATE INDEX outbox_entity ON outbox (entity_id)`,
      `CREATE INDEX outbox_conversation ON outbox (conversation_id)`,
      `CREATE TABLE outbox_dead (
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        conversation_id TEXT,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        failed_at TEXT NOT NULL,
        error TEXT NOT NULL
      )`,
      `CREATE TABLE sync_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      )`,
    ],
  },
];
