import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { conversationRow, messageRow, validationRow } from './kysely-store.js';
import { chunks, ID_CHUNK } from './outbox.js';
import type { RawClient } from './postgres.js';
import type { ConversationsTable, MessagesTable, ValidationsTable } from './schema.js';
import type { ConversationField, Mutation } from './store.js';
import type { RemoteDatabase } from './sync-schema.js';

/**
 * The PostgreSQL side of replication: pushing a batch of outbox mutations in one transaction and
 * reading what changed since a cursor.
 *
 * Every push stamps all its rows with the next seq of the one-row sync_clock, holding that row's
 * lock until it commits. The lock serializes pushers of all instances, so seqs become visible in
 * order and a reader that has seen seq N has seen everything up to N: the pull cursor can never
 * skip a row.
 */

/** A conversation as a push sends it: the row plus when each field it sets was written. */
export interface StampedConversation extends ConversationsTable {
  /** JSON object of column name to ISO time, for the fields this batch set. */
  field_stamps: string;
}

/** The changeable fields of a conversation, by the column PostgreSQL keeps them in. */
const FIELD_COLUMNS = {
  title: 'title',
  activeLeafId: 'active_leaf_id',
  model: 'model',
  systemPrompt: 'system_prompt',
} as const satisfies Record<ConversationField, keyof ConversationsTable>;
const ALL_FIELDS = Object.keys(FIELD_COLUMNS) as ConversationField[];
type FieldColumn = (typeof FIELD_COLUMNS)[ConversationField];

/** The net effect of an ordered batch, equal to applying it one mutation after another. */
export interface CollapsedBatch {
  deletes: string[];
  conversations: StampedConversation[];
  messages: MessagesTable[];
  validations: ValidationsTable[];
}

export function collapse(mutations: readonly Mutation[]): CollapsedBatch {
  const deletes = new Set<string>();
  const conversations = new Map<string, ConversationsTable>();
  // The fields the batch set per conversation: later rows carry earlier changes, so the last row
  // with the union of the fields is the net write, stamped with that row's time.
  const fields = new Map<string, Set<ConversationField>>();
  const messages = new Map<string, MessagesTable>();
  const validations = new Map<string, ValidationsTable>();
  for (const m of mutations) {
    switch (m.kind) {
      case 'conversation.upsert': {
        conversations.set(m.row.id, conversationRow(m.row));
        const set = fields.get(m.row.id) ?? new Set();
        for (const f of m.fields ?? ALL_FIELDS) set.add(f);
        fields.set(m.row.id, set);
        break;
      }
      case 'conversation.delete':
        // Everything of that conversation written earlier in the batch is gone with it.
        deletes.add(m.id);
        conversations.delete(m.id);
        fields.delete(m.id);
        for (const [id, row] of messages) if (row.conversation_id === m.id) messages.delete(id);
        break;
      case 'message.upsert':
        messages.set(m.row.id, messageRow(m.row));
        break;
      case 'validation.insert':
        // Insert-only, first one wins (as ON CONFLICT DO NOTHING would have it).
        if (!validations.has(m.row.id)) validations.set(m.row.id, validationRow(m.row));
        break;
    }
  }
  const stamped = [...conversations.values()].map((row): StampedConversation => {
    const stamps: Partial<Record<FieldColumn, string>> = {};
    for (const f of fields.get(row.id) ?? ALL_FIELDS) stamps[FIELD_COLUMNS[f]] = row.updated_at;
    return { ...row, field_stamps: JSON.stringify(stamps) };
  });
  return { deletes: [...deletes], conversations: stamped, messages: [...messages.values()], validations: [...validations.values()] };
}

/** The value PostgreSQL keeps differs from what the pusher has: it must take PostgreSQL's. */
function differs(sent: ConversationsTable, kept: ConversationsTable): boolean {
  return (
    sent.title !== kept.title ||
    sent.updated_at !== kept.updated_at ||
    sent.active_leaf_id !== kept.active_leaf_id ||
    sent.model !== kept.model ||
    sent.system_prompt !== kept.system_prompt ||
    sent.source_key !== kept.source_key
  );
}

export interface PushResult {
  /** The sync seq this batch was stamped with. */
  seq: number;
  /** Rows not written because their conversation was deleted (by any instance): delete wins. */
  dropped: number;
  /**
   * Conversations PostgreSQL now holds differently from the pushed row, because another instance
   * wrote some field later: the pusher applies these locally (its own pushes are not pulled back).
   */
  merged: ConversationsTable[];
}

type Remote = Kysely<RemoteDatabase>;

export interface RemoteWriter {
  withClient<T>(fn: (client: RawClient) => Promise<T>): Promise<T>;
}

const CONVERSATION_COLUMNS =
  'id text, title text, created_at text, updated_at text, active_leaf_id text, model text, system_prompt text, source_key text, field_stamps text';

/** The write of `column` is at least as recent as the one PostgreSQL has (or it has none): it wins. */
const wins = (column: FieldColumn): string =>
  `(EXCLUDED.field_stamps::jsonb ? '${column}' AND ` +
  `EXCLUDED.field_stamps::jsonb ->> '${column}' >= COALESCE(conversations.field_stamps::jsonb ->> '${column}', ''))`;
const MERGED_FIELDS = Object.values(FIELD_COLUMNS)
  .map((c) => `${c} = CASE WHEN ${wins(c)} THEN EXCLUDED.${c} ELSE conversations.${c} END`)
  .join(', ');
const MERGED_STAMPS =
  `(COALESCE(conversations.field_stamps::jsonb, '{}'::jsonb) || jsonb_strip_nulls(jsonb_build_object(` +
  Object.values(FIELD_COLUMNS)
    .map((c) => `'${c}', CASE WHEN ${wins(c)} THEN EXCLUDED.field_stamps::jsonb -> '${c}' END`)
    .join(', ') +
  `)))::text`;
const MESSAGE_COLUMNS =
  'id text, conversation_id text, role text, content text, status text, model text, prompt_tokens integer, completion_tokens integer, ' +
  'ttft_ms double precision, duration_ms double precision, validation text, error text, created_at text, updated_at text, parent_id text, stream_progress text';
const VALIDATION_COLUMNS =
  'id text, message_id text, source text, verdict text, errors integer, warnings integer, notes integer, config_hash text, duration_ms double precision, findings text, created_at text';

/**
 * Writes one ordered batch to PostgreSQL in one transaction with idempotent upserts: replaying a
 * batch (after a crash between this commit and the outbox delete) changes nothing but the seq.
 *
 * Rows are written stamped with a random negative marker. The last round trip then takes the
 * sync_clock row lock, turns the marker into the next seq and commits, all in one simple-protocol
 * query: the lock that orders every instance's pushes is never held while waiting on the network,
 * so an instance partitioned mid-push cannot stall the others.
 */
export async function pushBatch(target: RemoteWriter, mutations: readonly Mutation[]): Promise<PushResult> {
  const batch = collapse(mutations);
  // Inlined into SQL below: it must stay a plain integer.
  const marker = -(1 + Math.floor(Math.random() * 2 ** 52));
  return target.withClient(async (client) => {
    await client.query('BEGIN');
    try {
      let dropped = 0;
      const merged: ConversationsTable[] = [];
      if (batch.deletes.length > 0) {
        await client.query('DELETE FROM messages WHERE conversation_id = ANY($1::text[])', [batch.deletes]);
        await client.query('DELETE FROM conversations WHERE id = ANY($1::text[])', [batch.deletes]);
        await client.query(
          `INSERT INTO sync_tombstones (entity, id, sync_seq, deleted_at)
           SELECT 'conversation', id, $2::bigint, $3::text FROM unnest($1::text[]) AS id
           ON CONFLICT (entity, id) DO UPDATE SET sync_seq = EXCLUDED.sync_seq`,
          [batch.deletes, marker, new Date().toISOString()],
        );
      }
      if (batch.conversations.length > 0) {
        // Delete wins: a conversation tombstoned by any instance is not brought back. Each field
        // is merged on its own by its write time (last writer wins per field, not last pusher);
        // updated_at only moves forward.
        const result = await client.query(
          `INSERT INTO conversations (id, title, created_at, updated_at, active_leaf_id, model, system_prompt, source_key, field_stamps, sync_seq)
           SELECT r.id, r.title, r.created_at, r.updated_at, r.active_leaf_id, r.model, r.system_prompt, r.source_key, r.field_stamps, $2::bigint
           FROM json_to_recordset($1::json) AS r(${CONVERSATION_COLUMNS})
           WHERE NOT EXISTS (SELECT 1 FROM sync_tombstones t WHERE t.entity = 'conversation' AND t.id = r.id)
           ON CONFLICT (id) DO UPDATE SET ${MERGED_FIELDS}, field_stamps = ${MERGED_STAMPS},
             updated_at = GREATEST(conversations.updated_at, EXCLUDED.updated_at),
             source_key = COALESCE(EXCLUDED.source_key, conversations.source_key), sync_seq = EXCLUDED.sync_seq
           RETURNING id, title, created_at, updated_at, active_leaf_id, model, system_prompt, source_key`,
          [JSON.stringify(batch.conversations), marker],
        );
        dropped += batch.conversations.length - (result.rowCount ?? 0);
        const sent = new Map(batch.conversations.map((c) => [c.id, c]));
        for (const kept of result.rows as ConversationsTable[]) {
          const mine = sent.get(kept.id);
          if (mine && differs(mine, kept)) merged.push(kept);
        }
      }
      if (batch.messages.length > 0) {
        // A message whose conversation is gone (deleted by another instance) is dropped rather
        // than failing the batch, which would block the outbox forever.
        const result = await client.query(
          `INSERT INTO messages (id, conversation_id, role, content, status, model, prompt_tokens, completion_tokens, ttft_ms, duration_ms, validation, error, created_at, updated_at, parent_id, stream_progress, sync_seq)
           SELECT r.*, $2::bigint FROM json_to_recordset($1::json) AS r(${MESSAGE_COLUMNS})
           WHERE EXISTS (SELECT 1 FROM conversations c WHERE c.id = r.conversation_id)
           ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role, content = EXCLUDED.content, status = EXCLUDED.status,
             model = EXCLUDED.model, prompt_tokens = EXCLUDED.prompt_tokens, completion_tokens = EXCLUDED.completion_tokens,
             ttft_ms = EXCLUDED.ttft_ms, duration_ms = EXCLUDED.duration_ms, validation = EXCLUDED.validation,
             error = EXCLUDED.error, updated_at = EXCLUDED.updated_at, parent_id = EXCLUDED.parent_id,
             stream_progress = EXCLUDED.stream_progress, sync_seq = EXCLUDED.sync_seq`,
          [JSON.stringify(batch.messages), marker],
        );
        dropped += batch.messages.length - (result.rowCount ?? 0);
      }
      if (batch.validations.length > 0) {
        await client.query(
          `INSERT INTO validations (id, message_id, source, verdict, errors, warnings, notes, config_hash, duration_ms, findings, created_at, sync_seq)
           SELECT r.*, $2::bigint FROM json_to_recordset($1::json) AS r(${VALIDATION_COLUMNS})
           ON CONFLICT (id) DO NOTHING`,
          [JSON.stringify(batch.validations), marker],
        );
      }
      const results = await client.queryMany(
        `WITH clock AS (UPDATE sync_clock SET seq = seq + 1 WHERE id = 1 RETURNING seq),
           c AS (UPDATE conversations SET sync_seq = (SELECT seq FROM clock) WHERE sync_seq = ${marker}),
           m AS (UPDATE messages SET sync_seq = (SELECT seq FROM clock) WHERE sync_seq = ${marker}),
           v AS (UPDATE validations SET sync_seq = (SELECT seq FROM clock) WHERE sync_seq = ${marker}),
           t AS (UPDATE sync_tombstones SET sync_seq = (SELECT seq FROM clock) WHERE sync_seq = ${marker})
         SELECT seq FROM clock;
         COMMIT`,
      );
      const seq = Number((results[0]?.rows[0] as { seq?: unknown } | undefined)?.seq);
      if (!Number.isFinite(seq)) throw new Error('the sync_clock row is missing in PostgreSQL');
      return { seq, dropped, merged };
    } catch (err) {
      // Only when the server answered: after a client-side timeout the connection still has a
      // query outstanding and is destroyed instead (the server then aborts the transaction).
      if (err instanceof pg.DatabaseError) await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  });
}

/** Rows changed in PostgreSQL within (after, upTo] of the sync seq. */
export interface ChangePage {
  after: number;
  upTo: number;
  /** The newest committed seq when the page was read. */
  head: number;
  conversations: ConversationsTable[];
  messages: MessagesTable[];
  validations: ValidationsTable[];
  /** Conversations deleted in the window. */
  deletedConversations: string[];
}

const strip = <T extends { sync_seq: number | null }>(row: T): Omit<T, 'sync_seq' | 'field_stamps'> => {
  const { sync_seq: _seq, field_stamps: _stamps, ...rest } = row as T & { field_stamps?: unknown };
  return rest;
};

/**
 * Reads one window of changes in a repeatable-read snapshot. A window spans at most `maxSeqs`
 * pushes; rows stamped with one of the `skipSeqs` (the reader's own pushes) are left out.
 * Conversations of messages in the window that are not in it themselves (they changed again
 * later) are included as they are now, so the page can be applied on its own.
 */
export async function readChanges(db: Remote, after: number, maxSeqs: number, skipSeqs: readonly number[] = []): Promise<ChangePage> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const clock = await trx.selectFrom('sync_clock').select('seq').where('id', '=', 1).executeTakeFirstOrThrow();
      const head = Number(clock.seq);
      const upTo = Math.min(head, after + maxSeqs);
      const page: ChangePage = { after, upTo, head, conversations: [], messages: [], validations: [], deletedConversations: [] };
      if (upTo <= after) return page;
      const skip = skipSeqs.filter((seq) => seq > after && seq <= upTo);
      const inWindow =
        skip.length === 0
          ? sql<boolean>`sync_seq > ${after} AND sync_seq <= ${upTo}`
          : sql<boolean>`sync_seq > ${after} AND sync_seq <= ${upTo} AND sync_seq <> ALL(${skip}::bigint[])`;
      const conversations = await trx.selectFrom('conversations').selectAll().where(inWindow).orderBy('sync_seq').orderBy('id').execute();
      const messages = await trx.selectFrom('messages').selectAll().where(inWindow).orderBy('sync_seq').orderBy('id').execute();
      const validations = await trx.selectFrom('validations').selectAll().where(inWindow).orderBy('sync_seq').orderBy('id').execute();
      const tombstones = await trx.selectFrom('sync_tombstones').select('id').where('entity', '=', 'conversation').where(inWindow).execute();
      page.conversations = conversations.map(strip);
      page.messages = messages.map(strip);
      page.validations = validations.map(strip);
      page.deletedConversations = tombstones.map((t) => t.id);
      const known = new Set(page.conversations.map((c) => c.id));
      const missing = [...new Set(page.messages.map((m) => m.conversation_id))].filter((id) => !known.has(id));
      for (const part of chunks(missing, ID_CHUNK)) {
        const rows = await trx.selectFrom('conversations').selectAll().where('id', 'in', part).execute();
        page.conversations.push(...rows.map(strip));
      }
      return page;
    });
}
