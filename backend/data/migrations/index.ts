/**
 * The one migration set, run on SQLite and PostgreSQL alike. Statements use only types and syntax
 * both accept. An applied migration is identified by version and checksum: editing one after it
 * has run is refused at start-up, so add a new migration instead.
 */
export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'conversations-and-messages',
    statements: [
      `CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      `CREATE INDEX conversations_updated ON conversations (updated_at, id)`,
      `CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('complete', 'streaming', 'cancelled', 'error', 'interrupted')),
        model TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        ttft_ms DOUBLE PRECISION,
        duration_ms DOUBLE PRECISION,
        validation TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      `CREATE INDEX messages_conversation ON messages (conversation_id, id)`,
      `CREATE INDEX messages_status ON messages (status)`,
      `CREATE TABLE validations (
        id TEXT PRIMARY KEY,
        message_id TEXT,
        source TEXT NOT NULL,
        verdict TEXT NOT NULL,
        errors INTEGER NOT NULL,
        warnings INTEGER NOT NULL,
        notes INTEGER NOT NULL,
        config_hash TEXT NOT NULL,
        duration_ms DOUBLE PRECISION NOT NULL,
        findings TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`,
      `CREATE INDEX validations_message ON validations (message_id)`,
    ],
  },
  {
    // PostgreSQL mode: the replicator stamps every row it writes with a sync_seq taken from the
    // one-row sync_clock (whose row lock also serializes replicators, so seqs become visible in
    // order) and records deletes as tombstones; instances pull everything above their cursor. The
    // columns and tables exist in SQLite too so that one migration set runs on both; SQLite
    // leaves them empty.
    version: 2,
    name: 'sync-metadata',
    statements: [
      `ALTER TABLE conversations ADD COLUMN sync_seq BIGINT`,
      `ALTER TABLE messages ADD COLUMN sync_seq BIGINT`,
      `ALTER TABLE validations ADD COLUMN sync_seq BIGINT`,
      `CREATE INDEX conversations_sync ON conversations (sync_seq)`,
      `CREATE INDEX messages_sync ON messages (sync_seq)`,
      `CREATE INDEX validations_sync ON validations (sync_seq)`,
      `CREATE TABLE sync_tombstones (
        entity TEXT NOT NULL,
        id TEXT NOT NULL,
        sync_seq BIGINT NOT NULL,
        deleted_at TEXT NOT NULL,
        PRIMARY KEY (entity, id)
      )`,
      `CREATE INDEX sync_tombstones_seq ON sync_tombstones (sync_seq)`,
      `CREATE TABLE sync_clock (
        id INTEGER PRIMARY KEY,
        seq BIGINT NOT NULL,
        database_id TEXT
      )`,
      `INSERT INTO sync_clock (id, seq) VALUES (1, 0)`,
    ],
  },
  {
    // Access for remote frontends: named API tokens and paired browser sessions, both stored only
    // as SHA-256 hashes of their secrets, and one-time pairing codes (hashed too). Rows are
    // deleted on revocation, so a lookup that finds nothing is the one answer for "not valid".
    version: 3,
    name: 'access-credentials',
    statements: [
      `CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        scope TEXT NOT NULL CHECK (scope IN ('user', 'admin')),
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        last_used_at TEXT
      )`,
      `CREATE TABLE browser_sessions (
        id TEXT PRIMARY KEY,
        label TEXT NOT NULL,
        scope TEXT NOT NULL CHECK (scope IN ('user', 'admin')),
        secret_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        last_seen_at TEXT,
        address TEXT
      )`,
      `CREATE TABLE pairing_codes (
        code_hash TEXT PRIMARY KEY,
        scope TEXT NOT NULL CHECK (scope IN ('user', 'admin')),
        label TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
      )`,
    ],
  },
  {
    // Conversations become trees: each message names its parent, a conversation names the leaf of
    // the branch it shows, and carries its own model and system prompt. A streaming reply keeps
    // its progress (last seq and token boundaries) so that a viewer on any instance can resume it.
    // Today's linear conversations become single branches: each message's parent is the one
    // before it, and the last message is the active leaf.
    version: 4,
    name: 'conversation-branches',
    statements: [
      `ALTER TABLE messages ADD COLUMN parent_id TEXT`,
      `ALTER TABLE messages ADD COLUMN stream_progress TEXT`,
      `ALTER TABLE conversations ADD COLUMN active_leaf_id TEXT`,
      `ALTER TABLE conversations ADD COLUMN model TEXT`,
      `ALTER TABLE conversations ADD COLUMN system_prompt TEXT`,
      `ALTER TABLE conversations ADD COLUMN source_key TEXT`,
      `UPDATE messages SET parent_id = (
        SELECT p.id FROM messages p WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id ORDER BY p.id DESC LIMIT 1
      )`,
      `UPDATE conversations SET active_leaf_id = (
        SELECT m.id FROM messages m WHERE m.conversation_id = conversations.id ORDER BY m.id DESC LIMIT 1
      )`,
      `CREATE INDEX messages_parent ON messages (conversation_id, parent_id)`,
      `CREATE INDEX conversations_source ON conversations (source_key)`,
    ],
  },
  {
    // PostgreSQL mode: when each changeable field of a conversation was last set, as a JSON object
    // of column name to ISO time. A push keeps a field's value unless its own write is at least as
    // recent, so an older edit that reaches PostgreSQL late no longer overwrites a newer one, and
    // edits of different fields on two instances both survive. SQLite leaves it empty.
    version: 5,
    name: 'conversation-field-stamps',
    statements: [`ALTER TABLE conversations ADD COLUMN field_stamps TEXT`],
  },
  {
    // Indexes that hold only the rows their queries look for. Every chat turn inserts a
    // conversation and messages and rewrites a reply; each index entry it writes is B-tree work
    // and WAL pages on the server's hot path. Queries read the status only to find replies left
    // streaming, the source key only to find an imported conversation, and the sync sequence only
    // in PostgreSQL mode's pulls (ranges of it, never NULL; SQLite leaves it NULL). Both databases
    // use a partial index for a query whose WHERE implies the index's (status = 'streaming',
    // source_key = …, sync_seq > …).
    version: 6,
    name: 'partial-indexes',
    statements: [
      `DROP INDEX messages_status`,
      `CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming'`,
      `DROP INDEX conversations_source`,
      `CREATE INDEX conversations_source ON conversations (source_key) WHERE source_key IS NOT NULL`,
      `DROP INDEX conversations_sync`,
      `CREATE INDEX conversations_sync ON conversations (sync_seq) WHERE sync_seq IS NOT NULL`,
      `DROP INDEX messages_sync`,
      `CREATE INDEX messages_sync ON messages (sync_seq) WHERE sync_seq IS NOT NULL`,
      `DROP INDEX validations_sync`,
      `CREATE INDEX validations_sync ON validations (sync_seq) WHERE sync_seq IS NOT NULL`,
    ],
  },
  {
    // No query looks messages up by their parent: a conversation's branches (siblings, the active
    // path) are worked out from its messages, which are read by conversation (messages_conversation).
    // The index only cost every message insert a B-tree entry and its WAL page: on SQLite, with the
    // server's schema and the writes of a chat turn (six turns per commit), it took the store's
    // time per turn from 31.0 to 28.9 µs of statements and from 24.0 to 21.1 µs of commit.
    version: 7,
    name: 'drop-unused-parent-index',
    statements: [`DROP INDEX messages_parent`],
  },
];
