import { sql, type Kysely, type Transaction } from 'kysely';
import { applyMutation, conversationRow, messageRow, toConversation, toMessage, toValidation, validationRow } from './kysely-store.js';
import { chunks } from './outbox.js';
import type { Outbox } from './outbox.js';
import type { Database } from './schema.js';
import type { Mutation, ValidationRecord } from './store.js';
import { asShared, type LocalDatabase } from './sync-schema.js';

/**
 * Carrying rows between SQLite mode's app.db and PostgreSQL mode's replica.db when DATABASE_URL
 * switches between the two live. Every row is copied by id as an idempotent upsert, so a carry
 * that is interrupted (a crash) and repeated never duplicates anything.
 *
 * A switch carries twice: a first pass while the old store still takes writes (it copies the
 * bulk), then, with writes held, a final pass that only finds what changed in between. Only the
 * final pass writes the marks below, so both passes decide the same way about deletes.
 *
 * Deletes are carried only when it is safe to: after a carry both files get the same "peer mark"
 * (a random id plus the side that went live). At the next carry, if both files still hold the
 * same mark, the destination has been idle since it was last equal to the source, so a row it has
 * and the source lacks was deleted on the live side and is deleted here too. Opening a file as the
 * live store at start-up clears a mark that names the other side (the idle side went live behind
 * the switch's back, by a restart with the old URL), and then a carry only adds and updates rows.
 */

export type Side = 'sqlite' | 'postgres';

export interface PeerMark {
  id: string;
  live: Side;
  /** PostgreSQL mode's target (password left out), so a switch to another server resends everything. */
  target: string;
}

export interface CarryReport {
  /** Rows added or changed at the destination, by table. */
  conversations: number;
  messages: number;
  validations: number;
  /** Conversations deleted at the destination (only with a shared peer mark). */
  deleted: number;
  /** Credential rows copied (tokens, browser sessions, pairing codes). */
  credentials: number;
}

const MARK_KEY = 'storage-switch:peer';

type AnyDb = Kysely<Database> | Transaction<Database>;

/** The peer mark of a file, if its sync_state table exists and holds one. */
export async function readMark(db: Kysely<Database>): Promise<PeerMark | undefined> {
  const local = db as unknown as Kysely<LocalDatabase>;
  const table = await db
    .selectFrom('sqlite_master' as never)
    .select('name' as never)
    .where('type' as never, '=', 'table' as never)
    .where('name' as never, '=', 'sync_state' as never)
    .executeTakeFirst();
  if (table === undefined) return undefined;
  const row = await local.selectFrom('sync_state').select('value').where('key', '=', MARK_KEY).executeTakeFirst();
  if (!row) return undefined;
  try {
    return JSON.parse(row.value) as PeerMark;
  } catch {
    return undefined;
  }
}

async function writeMark(db: Kysely<LocalDatabase> | Transaction<LocalDatabase>, mark: PeerMark): Promise<void> {
  const value = JSON.stringify(mark);
  await db.insertInto('sync_state').values({ key: MARK_KEY, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
}

/** Start-up in `live` mode: a mark saying the other side was live no longer describes this file. */
export async function clearStaleMark(db: Kysely<Database>, live: Side): Promise<void> {
  const mark = await readMark(db);
  if (mark && mark.live !== live) await (db as unknown as Kysely<LocalDatabase>).deleteFrom('sync_state').where('key', '=', MARK_KEY).execute();
}

/**
 * Lets timers and I/O run between chunks: SQLite calls are synchronous, and a carry of many rows
 * would otherwise hold the whole server (HTTP, Socket.IO) until it ends.
 */
const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const READ_PAGE = 500;

/** Every row of a table, read a page at a time (in id order) so the server keeps serving meanwhile. */
async function pages<T extends 'conversations' | 'messages' | 'validations'>(db: AnyDb, table: T): Promise<Array<Database[T]>> {
  const out: Array<Database[T]> = [];
  let after = '';
  for (;;) {
    const rows = (await db
      .selectFrom(table as 'conversations')
      .selectAll()
      .where('id', '>', after)
      .orderBy('id')
      .limit(READ_PAGE)
      .execute()) as unknown as Array<Database[T] & { id: string }>;
    out.push(...rows);
    const last = rows[rows.length - 1];
    if (!last || rows.length < READ_PAGE) return out;
    after = last.id;
    await breathe();
  }
}

/** The shared tables of one file, normalized (sync columns and stale progress left out) and keyed by id. */
async function snapshot(db: AnyDb): Promise<{
  conversations: Map<string, string>;
  messages: Map<string, string>;
  validations: Map<string, string>;
  rows: { conversations: Map<string, ReturnType<typeof toConversation>>; messages: Map<string, ReturnType<typeof toMessage>>; validations: Map<string, ValidationRecord> };
}> {
  const conversations = (await pages(db, 'conversations')).map(toConversation);
  const messages = (await pages(db, 'messages')).map(toMessage);
  const validations = (await pages(db, 'validations')).map(toValidation);
  const keyed = async <T extends { id: string }>(items: T[], row: (item: T) => unknown): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for (const part of chunks(items, READ_PAGE)) {
      for (const item of part) out.set(item.id, JSON.stringify(row(item)));
      await breathe();
    }
    return out;
  };
  return {
    conversations: await keyed(conversations, conversationRow),
    messages: await keyed(messages, messageRow),
    validations: await keyed(validations, validationRow),
    rows: {
      conversations: new Map(conversations.map((c) => [c.id, c])),
      messages: new Map(messages.map((m) => [m.id, m])),
      validations: new Map(validations.map((v) => [v.id, v])),
    },
  };
}

/**
 * What makes the destination hold the source's rows: upserts of rows that are new or differ
 * (all of them when `everything`), and, when `withDeletes`, deletes of conversations the source
 * no longer has. Conversations come before their messages, so foreign keys hold in order.
 */
function plan(
  source: Awaited<ReturnType<typeof snapshot>>,
  destination: Awaited<ReturnType<typeof snapshot>>,
  options: { everything: boolean; withDeletes: boolean },
): { mutations: Mutation[]; report: Omit<CarryReport, 'credentials'> } {
  const report = { conversations: 0, messages: 0, validations: 0, deleted: 0 };
  const mutations: Mutation[] = [];
  const changed = (a: Map<string, string>, b: Map<string, string>, id: string): boolean => options.everything || a.get(id) !== b.get(id);
  for (const [id, row] of source.rows.conversations) {
    if (!changed(source.conversations, destination.conversations, id)) continue;
    mutations.push({ kind: 'conversation.upsert', row });
    report.conversations++;
  }
  for (const [id, row] of source.rows.messages) {
    if (!changed(source.messages, destination.messages, id)) continue;
    mutations.push({ kind: 'message.upsert', row });
    report.messages++;
  }
  for (const [id, row] of source.rows.validations) {
    if (destination.validations.has(id) && !options.everything) continue;
    mutations.push({ kind: 'validation.insert', row });
    report.validations++;
  }
  if (options.withDeletes) {
    for (const id of destination.conversations.keys()) {
      if (source.conversations.has(id)) continue;
      mutations.push({ kind: 'conversation.delete', id });
      report.deleted++;
    }
  }
  return { mutations, report };
}

const ROWS_PER_STATEMENT = 100;

/** An upsert of many rows: every column but the id (and created_at) takes the new row's value. */
async function upsertRows(trx: Transaction<Database>, table: 'conversations' | 'messages', rows: Array<Record<string, unknown>>): Promise<void> {
  const first = rows[0];
  if (!first) return;
  const columns = Object.keys(first).filter((c) => c !== 'id' && c !== 'created_at' && c !== 'conversation_id');
  const set = Object.fromEntries(columns.map((c) => [c, sql.ref(`excluded.${c}`)]));
  for (const part of chunks(rows, ROWS_PER_STATEMENT)) {
    await trx
      .insertInto(table)
      .values(part as never)
      .onConflict((oc) => oc.column('id').doUpdateSet(set))
      .execute();
    await breathe();
  }
}

/** The planned mutations, applied in bulk (same effect as applyMutation one by one, in order). */
async function applyAll(trx: Transaction<Database>, mutations: Mutation[]): Promise<void> {
  const conversations: Array<Record<string, unknown>> = [];
  const messages: Array<Record<string, unknown>> = [];
  const rest: Mutation[] = [];
  for (const m of mutations) {
    if (m.kind === 'conversation.upsert') conversations.push({ ...conversationRow(m.row) });
    else if (m.kind === 'message.upsert') messages.push({ ...messageRow(m.row) });
    else rest.push(m);
  }
  await upsertRows(trx, 'conversations', conversations);
  await upsertRows(trx, 'messages', messages);
  for (const m of rest) await applyMutation(trx, m);
}

/** Credentials are per instance in both modes: the destination becomes an exact copy. */
async function mirrorCredentials(source: AnyDb, trx: Transaction<Database>): Promise<number> {
  let copied = 0;
  const tokens = await source.selectFrom('api_tokens').selectAll().execute();
  await trx.deleteFrom('api_tokens').execute();
  for (const part of chunks(tokens, 100)) await trx.insertInto('api_tokens').values(part).execute();
  copied += tokens.length;
  const sessions = await source.selectFrom('browser_sessions').selectAll().execute();
  await trx.deleteFrom('browser_sessions').execute();
  for (const part of chunks(sessions, 100)) await trx.insertInto('browser_sessions').values(part).execute();
  copied += sessions.length;
  const codes = await source.selectFrom('pairing_codes').selectAll().execute();
  await trx.deleteFrom('pairing_codes').execute();
  for (const part of chunks(codes, 100)) await trx.insertInto('pairing_codes').values(part).execute();
  copied += codes.length;
  return copied;
}

export interface CarryOptions {
  /** False for the first pass of a switch: it leaves the marks alone. */
  final: boolean;
  /** A first pass already queued the rows: queue only what differs from the destination now. */
  precopied?: boolean;
}

const newMark = (live: Side, target: string): PeerMark => ({ id: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`, live, target });

/**
 * SQLite mode -> PostgreSQL mode: app.db's rows go into the replica and, as outbox rows, on to
 * PostgreSQL. Only what changed since the last carry is queued when the replica was idle since
 * then and the target is the same server; otherwise every row is queued (PostgreSQL upserts by
 * id, so rows it already has are not duplicated).
 */
export async function carryToReplica(
  appDb: Kysely<Database>,
  replica: Kysely<LocalDatabase>,
  outbox: Outbox,
  target: string,
  options: CarryOptions = { final: true },
): Promise<CarryReport> {
  const shared = replica as unknown as Kysely<Database>;
  const [sourceMark, destinationMark] = [await readMark(appDb), await readMark(shared)];
  const paired = sourceMark !== undefined && destinationMark !== undefined && sourceMark.id === destinationMark.id && sourceMark.live === 'sqlite';
  const source = await snapshot(appDb);
  const destination = await snapshot(shared);
  const everything = options.precopied !== true && (!paired || destinationMark.target !== target);
  const { mutations, report } = plan(source, destination, { everything, withDeletes: paired });
  const mark = newMark('postgres', target);
  let credentials = 0;
  await replica.transaction().execute(async (trx) => {
    await applyAll(asShared(trx), mutations);
    for (const part of chunks(mutations, 1000)) {
      await outbox.append(trx, part);
      await breathe();
    }
    credentials = await mirrorCredentials(appDb, asShared(trx));
    if (options.final) await writeMark(trx, mark);
  });
  if (options.final) await writeMark(appDb as unknown as Kysely<LocalDatabase>, mark);
  return { ...report, credentials };
}

/**
 * PostgreSQL mode -> SQLite mode: everything the replica holds (its pending outbox rows are
 * already applied there) is copied into app.db. The outbox stays in the replica and drains the
 * next time PostgreSQL mode runs.
 */
export async function carryToSqlite(
  replica: Kysely<Database>,
  appDb: Kysely<Database>,
  target: string,
  options: CarryOptions = { final: true },
): Promise<CarryReport> {
  const [sourceMark, destinationMark] = [await readMark(replica), await readMark(appDb)];
  const paired = sourceMark !== undefined && destinationMark !== undefined && sourceMark.id === destinationMark.id && sourceMark.live === 'postgres';
  const source = await snapshot(replica);
  const destination = await snapshot(appDb);
  const { mutations, report } = plan(source, destination, { everything: false, withDeletes: paired });
  const mark = newMark('sqlite', target);
  let credentials = 0;
  await appDb.transaction().execute(async (trx) => {
    await applyAll(trx, mutations);
    credentials = await mirrorCredentials(replica, trx);
    if (options.final) await writeMark(trx as unknown as Transaction<LocalDatabase>, mark);
  });
  if (options.final) await writeMark(replica as unknown as Kysely<LocalDatabase>, mark);
  return { ...report, credentials };
}
