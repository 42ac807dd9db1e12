import type { Migration } from './index.js';

/**
 * Full-text search indexes differ per database, so they are a set of their own for each dialect,
 * versioned in their own table. Both follow every insert, edit and delete by the database itself
 * (triggers in SQLite, generated columns in PostgreSQL), so no write path can forget them,
 * replication included. In SQLite the triggers queue the changes, which are indexed in batches
 * and always before a search runs (search-index.ts).
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
  {
    // Two changes to what writing a row costs (backend/data/search-index.ts explains both):
    // - The triggers no longer write the full-text indexes; they append what to index (or
    //   remove) to search_queue, in the same transaction as the row. The queue is applied in
    //   order, in batches, on a timer and before every search. FTS5 writes a new index segment
    //   for every transaction that touches it, so indexing rows as they were written (a few per
    //   chat turn, committed several times a second) cost about as much as writing the rows.
    // - A reply is indexed once it has finished (any status but streaming). Progress writes
    //   rewrite a streaming reply's text four times a second; re-indexing the whole text each
    //   time made a long reply's indexing grow with the square of its length.
    // The command column is what the FTS5 table takes as its command: NULL indexes the text,
    // 'delete' removes it (an external-content index is told the exact text it indexed).
    version: 3,
    name: 'fts5-queued-finished-text',
    statements: [
      `CREATE TABLE search_queue (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL CHECK (target IN ('message', 'conversation')),
        command TEXT CHECK (command IS NULL OR command = 'delete'),
        row INTEGER NOT NULL,
        text TEXT NOT NULL
      )`,
      // Replies streaming now were indexed by the former triggers: take them out, so the index
      // holds exactly the finished messages.
      `INSERT INTO messages_fts (messages_fts, rowid, content) SELECT 'delete', rowid, content FROM messages WHERE status = 'streaming'`,
      `DROP TRIGGER messages_fts_insert`,
      `DROP TRIGGER messages_fts_update`,
      `DROP TRIGGER messages_fts_delete`,
      `DROP TRIGGER conversations_fts_insert`,
      `DROP TRIGGER conversations_fts_update`,
      `DROP TRIGGER conversations_fts_delete`,
      `CREATE TRIGGER messages_search_insert AFTER INSERT ON messages WHEN new.status <> 'streaming' BEGIN
        INSERT INTO search_queue (target, command, row, text) VALUES ('message', NULL, new.rowid, new.content);
      END`,
      // One trigger, two conditional statements: the removal must come before the new text for
      // the same row, and SQLite does not promise an order between separate triggers.
      `CREATE TRIGGER messages_search_update AFTER UPDATE OF content, status ON messages
        WHEN old.content IS NOT new.content OR old.status IS NOT new.status BEGIN
        INSERT INTO search_queue (target, command, row, text) SELECT 'message', 'delete', old.rowid, old.content
          WHERE old.status <> 'streaming' AND (new.status = 'streaming' OR old.content IS NOT new.content);
        INSERT INTO search_queue (target, command, row, text) SELECT 'message', NULL, new.rowid, new.content
          WHERE new.status <> 'streaming' AND (old.status = 'streaming' OR old.content IS NOT new.content);
      END`,
      `CREATE TRIGGER messages_search_delete AFTER DELETE ON messages WHEN old.status <> 'streaming' BEGIN
        INSERT INTO search_queue (target, command, row, text) VALUES ('message', 'delete', old.rowid, old.content);
      END`,
      `CREATE TRIGGER conversations_search_insert AFTER INSERT ON conversations BEGIN
        INSERT INTO search_queue (target, command, row, text) VALUES ('conversation', NULL, new.rowid, new.title);
      END`,
      `CREATE TRIGGER conversations_search_update AFTER UPDATE OF title ON conversations WHEN old.title IS NOT new.title BEGIN
        INSERT INTO search_queue (target, command, row, text) VALUES ('conversation', 'delete', old.rowid, old.title);
        INSERT INTO search_queue (target, command, row, text) VALUES ('conversation', NULL, new.rowid, new.title);
      END`,
      `CREATE TRIGGER conversations_search_delete AFTER DELETE ON conversations BEGIN
        INSERT INTO search_queue (target, command, row, text) VALUES ('conversation', 'delete', old.rowid, old.title);
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
