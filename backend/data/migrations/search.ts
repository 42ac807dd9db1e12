import type { Migration } from './index.js';

/**
 * Full-text search indexes differ per database, so they are a set of their own for each dialect,
 * versioned in their own table. Both are kept in step with every insert, edit and delete by the
 * database itself (triggers in SQLite, generated columns in PostgreSQL), so no write path can
 * forget them, replication included.
 *
 * Tokenizers, chosen by measurement (docs/search.md): words are indexed with FTS5 `unicode61`
 * (any script, diacritics folded) and PostgreSQL's `simple` configuration (no stemming, any
 * script); `trigram` was 5-10x slower at 100,000 messages because common trigrams have huge
 * posting lists. Scripts written without spaces (Chinese, Japanese, Thai) are matched as
 * substrings instead: a bounded scan in SQLite, a pg_trgm index in PostgreSQL.
 */
export const SEARCH_MIGRATIONS_TABLE = 'schema_migrations_search';

export const sqliteSearchMigrations: Migration[] = [
  {
    version: 1,
    name: 'fts5-unicode61',
    statements: [
      `CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')`,
      `CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, content) VALUES (new.rowid, new.content);
      END`,
      `CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
      END`,
      `CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
        INSERT INTO messages_fts (rowid, content) VALUES (new.rowid, new.content);
      END`,
      `INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')`,
      `CREATE VIRTUAL TABLE conversations_fts USING fts5(title, content='conversations', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')`,
      `CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
        INSERT INTO conversations_fts (rowid, title) VALUES (new.rowid, new.title);
      END`,
      `CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
        INSERT INTO conversations_fts (conversations_fts, rowid, title) VALUES ('delete', old.rowid, old.title);
      END`,
      `CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
        INSERT INTO conversations_fts (conversations_fts, rowid, title) VALUES ('delete', old.rowid, old.title);
        INSERT INTO conversations_fts (rowid, title) VALUES (new.rowid, new.title);
      END`,
      `INSERT INTO conversations_fts (conversations_fts) VALUES ('rebuild')`,
    ],
  },
  {
    // Writes rewrite rows whole (an upsert sets every column), so an UPDATE OF content or title
    // fires on every chat turn (the conversation's updatedAt) and every progress write, changed
    // text or not. Re-indexing identical text is wasted work on the hot path.
    version: 2,
    name: 'fts-skip-unchanged-text',
    statements: [
      `DROP TRIGGER messages_fts_update`,
      `CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages WHEN old.content IS NOT new.content BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
        INSERT INTO messages_fts (rowid, content) VALUES (new.rowid, new.content);
      END`,
      `DROP TRIGGER conversations_fts_update`,
      `CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations WHEN old.title IS NOT new.title BEGIN
        INSERT INTO conversations_fts (conversations_fts, rowid, title) VALUES ('delete', old.rowid, old.title);
        INSERT INTO conversations_fts (rowid, title) VALUES (new.rowid, new.title);
      END`,
    ],
  },
];

export const postgresSearchMigrations: Migration[] = [
  {
    version: 1,
    name: 'tsvector-simple-and-trigram',
    statements: [
      `ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED`,
      `CREATE INDEX messages_search ON messages USING GIN (search_vector)`,
      `ALTER TABLE conversations ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', title)) STORED`,
      `CREATE INDEX conversations_search ON conversations USING GIN (search_vector)`,
      // pg_trgm is a trusted extension, but a server may not ship it: then substring search
      // still works, unindexed.
      `DO $$ BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX messages_trigram ON messages USING GIN (content gin_trgm_ops);
        CREATE INDEX conversations_trigram ON conversations USING GIN (title gin_trgm_ops);
      EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pg_trgm is not available: substring search runs without an index';
      END $$`,
    ],
  },
];
