import type { Generated, Transaction } from 'kysely';
import type { ConversationsTable, Database, MessagesTable, ValidationsTable } from './schema.js';

/**
 * The tables of PostgreSQL mode as the replicator sees them: the shared tables plus their sync
 * columns (migration 2), and the local replica's own tables (local migrations). The store code
 * keeps using `Database`; only the replication code needs these.
 */
export interface Synced {
  /** Set by the replicator in PostgreSQL; null in SQLite. BIGINT, parsed to a number. */
  sync_seq: number | null;
}

export interface SyncTombstonesTable {
  entity: 'conversation';
  id: string;
  sync_seq: number;
  deleted_at: string;
}

export interface SyncClockTable {
  id: number;
  seq: number;
  database_id: string | null;
}

export interface FieldStamped {
  /** JSON object: column name to the ISO time its value was written (migration 5); PostgreSQL only. */
  field_stamps: string | null;
}

/** PostgreSQL as the replicator writes it. */
export interface RemoteDatabase extends Omit<Database, 'conversations' | 'messages' | 'validations'> {
  conversations: ConversationsTable & Synced & FieldStamped;
  messages: MessagesTable & Synced;
  validations: ValidationsTable & Synced;
  sync_tombstones: SyncTombstonesTable;
  sync_clock: SyncClockTable;
}

export interface OutboxTable {
  seq: Generated<number>;
  kind: string;
  entity_id: string;
  conversation_id: string | null;
  /** The Mutation, as JSON. */
  payload: string;
  /** Epoch ms, for the replication-lag gauge. */
  created_at: number;
}

export interface OutboxDeadTable extends Omit<OutboxTable, 'seq'> {
  seq: number;
  failed_at: string;
  error: string;
}

export interface SyncStateTable {
  key: string;
  value: string;
}

/** The local SQLite replica of PostgreSQL mode. */
export interface LocalDatabase extends Database {
  outbox: OutboxTable;
  outbox_dead: OutboxDeadTable;
  sync_state: SyncStateTable;
}

/** The replica's transaction seen as the shared schema, for the shared write code (applyMutation). */
export const asShared = (trx: Transaction<LocalDatabase>): Transaction<Database> => trx as unknown as Transaction<Database>;
