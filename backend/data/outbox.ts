import type { Kysely, Transaction } from 'kysely';
import type { Mutation } from './store.js';
import type { LocalDatabase, OutboxTable } from './sync-schema.js';

/** One write waiting for PostgreSQL, in the order it was committed locally. */
export interface OutboxEntry {
  seq: number;
  mutation: Mutation;
  createdAt: number;
}

/** What a conversation has waiting in the outbox; reads use it to serve their own writes. */
export interface PendingForConversation {
  any: boolean;
  conversation: boolean;
  deleted: boolean;
  messageIds: Set<string>;
}

type Local = Kysely<LocalDatabase> | Transaction<LocalDatabase>;

/** SQLite's bound-parameter limit is far above this; it keeps statements a sane size. */
export const ID_CHUNK = 500;

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function keyOf(m: Mutation): { kind: string; entity_id: string; conversation_id: string | null } {
  switch (m.kind) {
    case 'conversation.upsert':
      return { kind: m.kind, entity_id: m.row.id, conversation_id: m.row.id };
    case 'conversation.delete':
      return { kind: m.kind, entity_id: m.id, conversation_id: m.id };
    case 'message.upsert':
      return { kind: m.kind, entity_id: m.row.id, conversation_id: m.row.conversationId };
    case 'validation.insert':
      return { kind: m.kind, entity_id: m.row.id, conversation_id: null };
  }
}

/**
 * The outbox of the local replica: every local write adds its mutations here in the same SQLite
 * transaction, and a row leaves only after PostgreSQL acknowledged it. A crash anywhere in between
 * replays the row, which is harmless because every mutation is an idempotent upsert.
 */
export class Outbox {
  constructor(private readonly db: Kysely<LocalDatabase>) {}

  /** Adds the mutations inside the caller's transaction (the one applying them locally). */
  async append(trx: Local, mutations: Mutation[], now = Date.now()): Promise<void> {
    if (mutations.length === 0) return;
    const rows: Array<Omit<OutboxTable, 'seq'>> = mutations.map((m) => ({ ...keyOf(m), payload: JSON.stringify(m), created_at: now }));
    for (const part of chunks(rows, 100)) await trx.insertInto('outbox').values(part).execute();
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Epoch ms of the oldest waiting write, or null when the outbox is empty. */
  async oldestCreatedAt(): Promise<number | null> {
    const row = await this.db.selectFrom('outbox').select('created_at').orderBy('seq').limit(1).executeTakeFirst();
    return row ? Number(row.created_at) : null;
  }

  /** The oldest `limit` entries, in commit order. */
  async read(limit: number): Promise<OutboxEntry[]> {
    const rows = await this.db.selectFrom('outbox').select(['seq', 'payload', 'created_at']).orderBy('seq').limit(limit).execute();
    return rows.map((r) => ({ seq: Number(r.seq), mutation: JSON.parse(r.payload) as Mutation, createdAt: Number(r.created_at) }));
  }

  /** Removes what PostgreSQL acknowledged: everything up to and including `lastSeq`. */
  async ack(lastSeq: number): Promise<number> {
    const result = await this.db.deleteFrom('outbox').where('seq', '<=', lastSeq).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /**
   * Moves a write PostgreSQL refuses (not an outage: a data error) aside, kept for an admin.
   * False when the entry was no longer in the outbox (moved or acknowledged already): the
   * caller's count of waiting writes must then stay as it is.
   */
  async bury(entry: OutboxEntry, error: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('outbox').selectAll().where('seq', '=', entry.seq).executeTakeFirst();
      if (!row) return false;
      await trx
        .insertInto('outbox_dead')
        .values({ ...row, seq: Number(row.seq), failed_at: new Date().toISOString(), error })
        .onConflict((oc) => oc.column('seq').doNothing())
        .execute();
      await trx.deleteFrom('outbox').where('seq', '=', entry.seq).execute();
      return true;
    });
  }

  async deadCount(): Promise<number> {
    const row = await this.db.selectFrom('outbox_dead').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Which of these entity ids have writes waiting. */
  async pendingIds(trx: Local, ids: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunks([...new Set(ids)], ID_CHUNK)) {
      const rows = await trx.selectFrom('outbox').select('entity_id').distinct().where('entity_id', 'in', part).execute();
      for (const r of rows) out.add(r.entity_id);
    }
    return out;
  }

  async pendingFor(conversationId: string): Promise<PendingForConversation> {
    const rows = await this.db.selectFrom('outbox').select(['kind', 'entity_id']).where('conversation_id', '=', conversationId).execute();
    const pending: PendingForConversation = { any: rows.length > 0, conversation: false, deleted: false, messageIds: new Set() };
    for (const r of rows) {
      if (r.kind === 'conversation.upsert') pending.conversation = true;
      else if (r.kind === 'conversation.delete') pending.deleted = true;
      else if (r.kind === 'message.upsert') pending.messageIds.add(r.entity_id);
    }
    return pending;
  }

  /** Conversations with any write waiting, up to `limit` + 1 (so callers can tell "too many"). */
  async dirtyConversations(limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('outbox')
      .select('conversation_id')
      .distinct()
      .where('conversation_id', 'is not', null)
      .limit(limit + 1)
      .execute();
    return rows.map((r) => r.conversation_id).filter((id): id is string => id !== null);
  }
}
