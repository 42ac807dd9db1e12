import { createQueryId, type CompiledQuery, type DialectAdapter, type Kysely, type Transaction } from 'kysely';
import { invalid } from '../errors.js';
import { KyselyCredentialStore, type CredentialStore } from './credentials.js';
import { searchPostgres, searchSqlite } from './search.js';
import { indexQueued } from './search-index.js';
import { sqliteConnectionOf, type SqliteConnection } from './sqlite.js';
import type { Database, MessagesTable, ConversationsTable, ValidationsTable } from './schema.js';
import type {
  Conversation,
  ConversationWithMessages,
  ListOptions,
  Message,
  Mutation,
  Page,
  SearchHit,
  Store,
  StoreHealth,
  StreamProgress,
  ValidationRecord,
} from './store.js';

interface QueuedWrite {
  mutations: Mutation[];
  resolve: () => void;
  reject: (err: unknown) => void;
  at: number;
}

/**
 * The most turns of the event loop a SQLite write waits for others to share its transaction. With
 * 16 chat turns in flight, one turn gathered about 8 writes per transaction, four about 12-13,
 * and the server's CPU per chat turn fell by 5-10%; more turns gathered no more.
 */
export const GROUP_COMMIT_MAX_TURNS = 4;

/** Called with the duration of every query, for the database histogram. */
export type QueryObserver = (operation: string, seconds: number) => void;

export const toConversation = (r: ConversationsTable): Conversation => ({
  id: r.id,
  title: r.title,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  activeLeafId: r.active_leaf_id ?? null,
  model: r.model ?? null,
  systemPrompt: r.system_prompt ?? null,
  sourceKey: r.source_key ?? null,
});

const parseJson = (text: string | null): unknown => (text === null ? null : (JSON.parse(text) as unknown));

export const toMessage = (r: MessagesTable): Message => {
  const m = toMessageFields(r);
  if (r.stream_progress !== null && r.stream_progress !== undefined && r.status === 'streaming') {
    m.progress = JSON.parse(r.stream_progress) as StreamProgress;
  }
  return m;
};

const toMessageFields = (r: MessagesTable): Message => ({
  id: r.id,
  conversationId: r.conversation_id,
  role: r.role,
  content: r.content,
  status: r.status,
  model: r.model,
  promptTokens: r.prompt_tokens === null ? null : Number(r.prompt_tokens),
  completionTokens: r.completion_tokens === null ? null : Number(r.completion_tokens),
  ttftMs: r.ttft_ms === null ? null : Number(r.ttft_ms),
  durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
  validation: parseJson(r.validation),
  error: parseJson(r.error) as Message['error'],
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  parentId: r.parent_id ?? null,
});

export const conversationRow = (c: Conversation): ConversationsTable => ({
  id: c.id,
  title: c.title,
  created_at: c.createdAt,
  updated_at: c.updatedAt,
  active_leaf_id: c.activeLeafId ?? null,
  model: c.model ?? null,
  system_prompt: c.systemPrompt ?? null,
  source_key: c.sourceKey ?? null,
});

export const messageRow = (m: Message): MessagesTable => ({
  id: m.id,
  conversation_id: m.conversationId,
  role: m.role,
  content: m.content,
  status: m.status,
  model: m.model,
  prompt_tokens: m.promptTokens,
  completion_tokens: m.completionTokens,
  ttft_ms: m.ttftMs,
  duration_ms: m.durationMs,
  validation: m.validation === null || m.validation === undefined ? null : JSON.stringify(m.validation),
  error: m.error === null ? null : JSON.stringify(m.error),
  created_at: m.createdAt,
  updated_at: m.updatedAt,
  parent_id: m.parentId ?? null,
  stream_progress: m.status === 'streaming' && m.progress ? JSON.stringify(m.progress) : null,
});

export const validationRow = (v: ValidationRecord): ValidationsTable => ({
  id: v.id,
  message_id: v.messageId,
  source: v.source,
  verdict: v.verdict,
  errors: v.errors,
  warnings: v.warnings,
  notes: v.notes,
  config_hash: v.configHash,
  duration_ms: v.durationMs,
  findings: JSON.stringify(v.findings),
  created_at: v.createdAt,
});

/** A validations row as a record; PostgreSQL may hand numbers back as strings, hence Number(). */
export const toValidation = (r: ValidationsTable): ValidationRecord => ({
  id: r.id,
  messageId: r.message_id,
  source: r.source as ValidationRecord['source'],
  verdict: r.verdict as ValidationRecord['verdict'],
  errors: Number(r.errors),
  warnings: Number(r.warnings),
  notes: Number(r.notes),
  configHash: r.config_hash,
  durationMs: Number(r.duration_ms),
  findings: JSON.parse(r.findings) as unknown[],
  createdAt: r.created_at,
});

export function encodeCursor(c: Conversation): string {
  return Buffer.from(`${c.updatedAt}|${c.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { updatedAt: string; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const at = text.lastIndexOf('|');
  if (at <= 0) throw invalid('cursor is not valid; pass the nextCursor of a previous page', { field: 'cursor' });
  return { updatedAt: text.slice(0, at), id: text.slice(at + 1) };
}

type Executor = Transaction<Database> | Kysely<Database>;

const upsertConversation = (db: Executor, row: ConversationsTable) =>
  db
    .insertInto('conversations')
    .values(row)
    .onConflict((oc) => {
      const { id: _id, created_at: _created, ...changes } = row;
      return oc.column('id').doUpdateSet(changes);
    });

/**
 * What a rewrite of a message sets. Its id, conversation, role, parent and creation time never
 * change once it exists, so they are left out: SQLite then leaves alone the indexes on them
 * (messages_conversation), which a final or progress write of a reply would otherwise rewrite.
 */
const messageChanges = (row: MessagesTable) => {
  const { id: _id, conversation_id: _c, created_at: _created, role: _role, parent_id: _parent, ...changes } = row;
  return changes;
};

const upsertMessage = (db: Executor, row: MessagesTable) =>
  db
    .insertInto('messages')
    .values(row)
    .onConflict((oc) => oc.column('id').doUpdateSet(messageChanges(row)));

/** The same change as upsertMessage's DO UPDATE, for a message known to be stored. */
const updateMessage = (db: Executor, row: MessagesTable) => db.updateTable('messages').set(messageChanges(row)).where('id', '=', row.id);

const insertValidation = (db: Executor, row: ValidationsTable) =>
  db
    .insertInto('validations')
    .values(row)
    .onConflict((oc) => oc.column('id').doNothing());

/**
 * A write statement compiled once, and which column's value goes in each of its parameters.
 * null: the statement could not be mapped that way, so it is built every time.
 */
type Shape = { compiled: CompiledQuery; columns: string[] } | null;

/** Per dialect (each Kysely instance has its own adapter), per statement and set of columns. */
const shapes = new WeakMap<DialectAdapter, Map<string, Shape>>();

/**
 * The statement `build` makes for `row`, compiled once per dialect and column set: building and
 * compiling Kysely's query tree cost about as much as SQLite running the insert, and a chat turn
 * writes the same few statements every time. The first call compiles the statement for a row of
 * placeholders, one per column, to learn where each column's value goes among the parameters;
 * every later call only puts the row's values there. The SQL is the one Kysely builds for the
 * row, so both dialects and every caller (store, replica, replicator) run exactly what Kysely
 * would. null: the statement could not be mapped that way, so it is built every time.
 */
function compiledFor<R extends object>(
  db: Executor,
  name: string,
  row: R,
  build: (db: Executor, row: R) => { compile(): CompiledQuery },
): CompiledQuery | null {
  const values = row as Record<string, unknown>;
  const adapter = db.getExecutor().adapter;
  let known = shapes.get(adapter);
  if (known === undefined) shapes.set(adapter, (known = new Map<string, Shape>()));
  // Kysely leaves out columns whose value is undefined, so they change the statement. Each kind of
  // row has the same columns every time (conversationRow, messageRow, validationRow), so those
  // left out (nearly always none) are what tells its statements apart.
  let key = name;
  for (const c in values) if (values[c] === undefined) key += `,${c}`;
  let shape = known.get(key);
  if (shape === undefined) {
    const columns = Object.keys(values).filter((c) => values[c] !== undefined);
    shape = learnShape(columns, (placeholders) => build(db, placeholders as R).compile());
    known.set(key, shape);
  }
  if (shape === null) return null;
  const parameters = shape.columns.map((c) => values[c]);
  return { ...shape.compiled, parameters, queryId: createQueryId() };
}

/**
 * The statements a mutation takes, compiled, in order: applyMutation runs them through Kysely, and
 * the SQLite group commit on its connection directly.
 */
export function compileMutation(db: Executor, m: Mutation): CompiledQuery[] {
  const one = <R extends object>(name: string, row: R, build: (db: Executor, row: R) => { compile(): CompiledQuery }): CompiledQuery =>
    compiledFor(db, name, row, build) ?? build(db, row).compile();
  switch (m.kind) {
    case 'conversation.upsert':
      return [one('conversation.upsert', conversationRow(m.row), upsertConversation)];
    case 'conversation.delete':
      // Explicit child delete: PostgreSQL cascades too, but this keeps both dialects identical.
      return [
        db.deleteFrom('messages').where('conversation_id', '=', m.id).compile(),
        db.deleteFrom('conversations').where('id', '=', m.id).compile(),
      ];
    case 'message.upsert':
      return [one('message.upsert', messageRow(m.row), upsertMessage)];
    case 'validation.insert':
      return [one('validation.insert', validationRow(m.row), insertValidation)];
  }
}

function learnShape(columns: string[], compile: (row: Record<string, unknown>) => CompiledQuery): Shape {
  const marker = (c: string): string => `\u0000orchestra-column:${c}`;
  const byMarker = new Map(columns.map((c) => [marker(c), c]));
  const compiled = compile(Object.fromEntries(columns.map((c) => [c, marker(c)])));
  const mapped: string[] = [];
  for (const p of compiled.parameters) {
    const column = typeof p === 'string' ? byMarker.get(p) : undefined;
    if (column === undefined) return null;
    mapped.push(column);
  }
  return { compiled, columns: mapped };
}

/** Applies one mutation inside a transaction; shared by the local store and the replicator. */
export async function applyMutation(trx: Executor, m: Mutation): Promise<void> {
  for (const q of compileMutation(trx, m)) await trx.executeQuery(q);
}

/** The dialect-neutral store over a Kysely instance; SQLite and PostgreSQL share it. */
export class KyselyStore implements Store {
  readonly credentials: CredentialStore;

  constructor(
    readonly db: Kysely<Database>,
    readonly backend: 'sqlite' | 'postgres',
    private readonly observe: QueryObserver = () => {},
  ) {
    this.credentials = new KyselyCredentialStore(db);
  }

  protected async timed<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.observe(operation, (performance.now() - start) / 1000);
    }
  }

  apply(mutations: Mutation[]): Promise<void> {
    if (this.backend !== 'sqlite') return this.timed('apply', () => this.transact([mutations]));
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ mutations, resolve, reject, at: performance.now() });
      if (!this.draining) {
        this.draining = true;
        this.gather(this.queued.length, 1);
      }
    });
  }

  /**
   * Lets a turn of the event loop run before the transaction starts, and another while the turn
   * before brought more writes, up to GROUP_COMMIT_MAX_TURNS: a write that is alone waits one turn
   * of the loop; writes that keep coming (a busy server) share a larger transaction.
   */
  private gather(seen: number, turns: number): void {
    setImmediate(() => {
      if (this.queued.length > seen && turns < GROUP_COMMIT_MAX_TURNS) this.gather(this.queued.length, turns + 1);
      else void this.drain();
    });
  }

  /** SQLite writes waiting for the next transaction, in the order they were asked for. */
  private queued: QueuedWrite[] = [];
  private draining = false;

  /**
   * Group commit on SQLite: a transaction's commit (its WAL write, and now and then a checkpoint)
   * costs more than the few rows of a chat turn, and the single connection runs one transaction
   * at a time anyway. The first transaction starts once the event loop has run the callbacks it
   * had ready (setImmediate), so the writes of every request, provider reply and socket event
   * handled in that turn of the loop commit together; while each turn brings more writes, it waits
   * for the next, up to GROUP_COMMIT_MAX_TURNS (see gather). Every write asked for while a
   * transaction runs goes into the next one. No timer is involved: a lone write waits only for the
   * callbacks already due, never for others to arrive. (Waiting only for the current microtasks is not
   * enough: better-sqlite3 runs synchronously, so writes of other requests never arrive within
   * them, and each chat turn paid two commits.) Each caller still sees its own outcome: when a
   * shared transaction fails, its writes are tried again one by one, so one bad write fails alone.
   */
  private async drain(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        const batch = this.queued;
        this.queued = [];
        try {
          await this.transact(batch.map((w) => w.mutations));
          this.settle(batch, undefined);
        } catch (err) {
          if (batch.length === 1) this.settle(batch, err);
          else {
            for (const w of batch) {
              try {
                await this.transact([w.mutations]);
                this.settle([w], undefined);
              } catch (one) {
                this.settle([w], one);
              }
            }
          }
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private settle(writes: QueuedWrite[], err: unknown): void {
    const now = performance.now();
    for (const w of writes) {
      this.observe('apply', (now - w.at) / 1000);
      if (err === undefined) w.resolve();
      else w.reject(err);
    }
  }

  private transact(groups: Mutation[][]): Promise<void> {
    const connection = this.backend === 'sqlite' ? sqliteConnectionOf(this.db) : undefined;
    if (connection !== undefined) return this.db.connection().execute(() => Promise.resolve(this.commitNow(connection, groups)));
    return this.db.transaction().execute(async (trx) => {
      for (const mutations of groups) for (const m of mutations) await applyMutation(trx, m);
    });
  }

  /**
   * One transaction with the group's statements, run on the SQLite connection in a single
   * synchronous stretch. The statements are those applyMutation runs, compiled by Kysely the same
   * way; going through Kysely for each one cost a chain of promises per statement, a fifth of the
   * CPU of a group commit. Kysely's connection is held meanwhile (see transact), so no other query
   * runs inside this transaction.
   */
  private commitNow(connection: SqliteConnection, groups: Mutation[][]): void {
    connection.prepare('begin').run();
    try {
      for (const mutations of groups) for (const m of mutations) this.applyNow(connection, m);
      connection.prepare('commit').run();
    } catch (err) {
      // A failed statement leaves the transaction open (a constraint error) or ends it (some I/O
      // errors); either way nothing of the group stays.
      if (connection.inTransaction) connection.prepare('rollback').run();
      throw err;
    }
  }

  /**
   * A message written again (a reply's progress or final text: updated after it was created) is
   * updated in place first. SQLite's upsert tries the insert before it finds the conflict, and
   * that cost twice what the update does (about 18 against 8 µs). A message that turns out not to
   * be stored yet, and every other write, goes through the statement applyMutation runs.
   */
  private applyNow(connection: SqliteConnection, m: Mutation): void {
    if (m.kind === 'message.upsert' && m.row.updatedAt !== m.row.createdAt) {
      const update = compiledFor(this.db, 'message.update', messageRow(m.row), updateMessage);
      if (update !== null && connection.prepare(update.sql).run(update.parameters).changes > 0) return;
    }
    for (const q of compileMutation(this.db, m)) connection.prepare(q.sql).run(q.parameters);
  }

  getConversation(id: string): Promise<Conversation | undefined> {
    return this.timed('getConversation', async () => {
      const row = await this.db.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toConversation(row) : undefined;
    });
  }

  getConversationWithMessages(id: string): Promise<ConversationWithMessages | undefined> {
    return this.timed('getConversationWithMessages', async () => {
      const row = await this.db.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      const messages = await this.db
        .selectFrom('messages')
        .selectAll()
        .where('conversation_id', '=', id)
        .orderBy('id')
        .execute();
      return { ...toConversation(row), messages: messages.map(toMessage) };
    });
  }

  listConversations({ limit, cursor }: ListOptions): Promise<Page<Conversation>> {
    return this.timed('listConversations', async () => {
      let q = this.db.selectFrom('conversations').selectAll();
      if (cursor !== undefined) {
        const c = decodeCursor(cursor);
        q = q.where((eb) =>
          eb.or([eb('updated_at', '<', c.updatedAt), eb.and([eb('updated_at', '=', c.updatedAt), eb('id', '<', c.id)])]),
        );
      }
      const rows = await q.orderBy('updated_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
      const items = rows.slice(0, limit).map(toConversation);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
    });
  }

  findConversationBySource(sourceKey: string): Promise<Conversation | undefined> {
    return this.timed('findConversationBySource', async () => {
      const row = await this.db.selectFrom('conversations').selectAll().where('source_key', '=', sourceKey).orderBy('id').executeTakeFirst();
      return row ? toConversation(row) : undefined;
    });
  }

  getMessage(id: string): Promise<Message | undefined> {
    return this.timed('getMessage', async () => {
      const row = await this.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toMessage(row) : undefined;
    });
  }

  listMessages(conversationId: string): Promise<Message[]> {
    return this.timed('listMessages', async () => {
      const rows = await this.db
        .selectFrom('messages')
        .selectAll()
        .where('conversation_id', '=', conversationId)
        .orderBy('id')
        .execute();
      return rows.map(toMessage);
    });
  }

  search(q: string, limit: number): Promise<SearchHit[]> {
    return this.timed('search', async () => {
      if (this.backend === 'postgres') return searchPostgres(this.db, q, limit);
      // Rows written before this search are in the queue or the index: index the queue first.
      await indexQueued(this.db);
      return searchSqlite(this.db, q, limit);
    });
  }

  markInterrupted(): Promise<number> {
    return this.timed('markInterrupted', async () => {
      const result = await this.db
        .updateTable('messages')
        .set({ status: 'interrupted', updated_at: new Date().toISOString() })
        .where('status', '=', 'streaming')
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    });
  }

  health(): StoreHealth {
    return { backend: this.backend, mode: 'primary', breaker: null, pendingSync: 0 };
  }

  async ping(): Promise<void> {
    await this.db.selectFrom('schema_migrations').select('version').limit(1).execute();
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
