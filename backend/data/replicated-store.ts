import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Breaker, BreakerEvent, BreakerTransition } from '../breaker/breaker.js';
import { ConfigError } from '../config/load.js';
import { applyMutation, decodeCursor, encodeCursor, KyselyStore, toConversation, toMessage, type QueryObserver } from './kysely-store.js';
import type { CredentialStore } from './credentials.js';
import { MigrationError } from './migrate.js';
import { chunks, ID_CHUNK, Outbox, type PendingForConversation } from './outbox.js';
import { preparePostgres, type PostgresTarget, type RawClient } from './postgres.js';
import { Replicator, type RemoteEndpoint } from './replicator.js';
import type { Database } from './schema.js';
import type { ReplicationObserver } from './observer.js';
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
  SyncStatus,
} from './store.js';
import { asShared, type LocalDatabase, type RemoteDatabase } from './sync-schema.js';

export interface ReplicatedStoreOptions {
  /** The local replica (SQLite, migrated with the shared and the local set). */
  local: Kysely<Database>;
  url: string;
  connect: (url: string) => PostgresTarget;
  breaker: Breaker;
  logger: Logger;
  observe: (backend: 'sqlite' | 'postgres') => QueryObserver;
  /** The longest a read waits for PostgreSQL before it is served from SQLite. */
  readTimeoutMs: number;
  pullIntervalMs: number;
  /** Told the outbox backlog, lag and active backend whenever they may have changed. */
  observer?: ReplicationObserver;
  batchSize?: number;
  retryDelayMs?: number;
  /** Called with the conversations a pull changed (cache invalidation). */
  onReplicated?: (conversationIds: string[]) => void;
  /**
   * Runs on the replica before replication starts (a live switch from SQLite mode carries
   * app.db's rows in here, outbox included).
   */
  prepare?: (local: Kysely<LocalDatabase>, outbox: Outbox) => Promise<void>;
}

/** Above this many conversations with unpushed writes, lists are read from SQLite alone. */
const MAX_OVERLAY = 200;

const EXPIRED = Symbol('expired');
type Attempt<T> = { ok: true; value: T } | { ok: false };

const byRecency = (a: Conversation, b: Conversation): number =>
  a.updatedAt === b.updatedAt ? (a.id < b.id ? 1 : a.id > b.id ? -1 : 0) : a.updatedAt < b.updatedAt ? 1 : -1;

/** One PostgreSQL target with its migrate-once readiness. */
class Remote implements RemoteEndpoint {
  readonly store: KyselyStore;
  readonly db: Kysely<RemoteDatabase>;
  databaseId: string | undefined;
  private preparing: Promise<string> | undefined;

  constructor(
    readonly target: PostgresTarget,
    observe: QueryObserver,
    private readonly log: Logger,
  ) {
    this.store = new KyselyStore(target.db, 'postgres', observe);
    this.db = target.db as unknown as Kysely<RemoteDatabase>;
  }

  withClient<T>(fn: (client: RawClient) => Promise<T>): Promise<T> {
    return this.target.withClient(fn);
  }

  ready(): Promise<string> {
    if (this.databaseId !== undefined) return Promise.resolve(this.databaseId);
    this.preparing ??= preparePostgres(this.target.db).then(
      ({ databaseId, applied }) => {
        this.databaseId = databaseId;
        this.log.info({ target: this.target.label, databaseId, applied }, 'PostgreSQL is ready');
        return databaseId;
      },
      (err: unknown) => {
        this.preparing = undefined;
        throw err;
      },
    );
    return this.preparing;
  }
}

/**
 * The store of PostgreSQL mode. Writes are local-first: they commit to the SQLite replica together
 * with their outbox rows and return; the replicator brings them to PostgreSQL. Reads come from
 * PostgreSQL while its breaker is closed (overlaid with this instance's own unpushed writes, so a
 * client always reads what it just wrote) and from SQLite otherwise; a PostgreSQL read that fails
 * or takes longer than `readTimeoutMs` is answered from SQLite instead.
 */
export class ReplicatedStore implements Store {
  readonly backend = 'postgres' as const;
  private readonly localDb: Kysely<LocalDatabase>;
  private readonly local: KyselyStore;
  private readonly outbox: Outbox;
  private readonly replicator: Replicator;
  private readonly log: Logger;
  /**
   * Credentials stay in this instance's SQLite replica: they are not replicated, so each
   * instance sharing PostgreSQL has its own named tokens and sessions (docs/security.md).
   */
  readonly credentials: CredentialStore;
  private remote: Remote;
  private pending: number;
  private oldestPendingAt: number | null;
  private readFallbacks = 0;
  private readonly gaugeTimer: NodeJS.Timeout;
  private readonly offTransition: () => void;
  private readonly offEvent: () => void;
  /**
   * Set when a read gave up waiting for PostgreSQL; until any PostgreSQL call succeeds again,
   * reads go straight to SQLite instead of each waiting out the timeout while the breaker is
   * still counting failures.
   */
  private suspect = false;
  private closing: Promise<void> | undefined;
  private quiet = false;

  static async open(options: ReplicatedStoreOptions): Promise<ReplicatedStore> {
    const outbox = new Outbox(options.local as unknown as Kysely<LocalDatabase>);
    await options.prepare?.(options.local as unknown as Kysely<LocalDatabase>, outbox);
    const pending = await outbox.count();
    const oldest = await outbox.oldestCreatedAt();
    const dead = await outbox.deadCount();
    const store = new ReplicatedStore(options, outbox, pending, oldest, dead);
    await store.firstContact();
    return store;
  }

  /** One attempt at start: a schema PostgreSQL refuses stops start-up; being unreachable does not. */
  private async firstContact(): Promise<void> {
    try {
      await this.o.breaker.run(() => this.remote.ready());
    } catch (err) {
      if (err instanceof MigrationError) {
        await this.close();
        throw err;
      }
      this.log.warn(
        { target: this.remote.target.label, err: (err as Error).message },
        'PostgreSQL is not reachable; serving from the local replica until it is',
      );
    }
  }

  private constructor(
    private readonly o: ReplicatedStoreOptions,
    outbox: Outbox,
    pending: number,
    oldestPendingAt: number | null,
    deadLetters: number,
  ) {
    this.log = o.logger.child({ component: 'store' });
    this.localDb = o.local as unknown as Kysely<LocalDatabase>;
    this.local = new KyselyStore(o.local, 'sqlite', o.observe('sqlite'));
    this.credentials = this.local.credentials;
    this.outbox = outbox;
    this.pending = pending;
    this.oldestPendingAt = oldestPendingAt;
    this.remote = new Remote(o.connect(o.url), o.observe('postgres'), this.log);
    this.replicator = new Replicator({
      local: this.localDb,
      outbox,
      breaker: o.breaker,
      remote: () => this.remote,
      logger: o.logger,
      observe: o.observe('postgres'),
      pullIntervalMs: o.pullIntervalMs,
      ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
      ...(o.retryDelayMs !== undefined ? { retryDelayMs: o.retryDelayMs } : {}),
      onOutboxShrunk: (removed) => void this.shrunk(removed),
      ...(o.onReplicated ? { onReplicated: o.onReplicated } : {}),
    });
    this.replicator.stats.deadLetters = deadLetters;
    if (pending > 0) this.log.info({ pendingSync: pending }, 'writes from a previous run are waiting for PostgreSQL; resuming');
    this.offTransition = o.breaker.onTransition((_t: BreakerTransition) => this.refreshGauges());
    this.offEvent = o.breaker.onEvent((e: BreakerEvent) => {
      if (e === 'success' || e === 'close') this.suspect = false;
    });
    this.gaugeTimer = setInterval(() => this.refreshGauges(), 1000);
    this.gaugeTimer.unref();
    this.refreshGauges();
    this.replicator.kick();
  }

  /** True when reads go to PostgreSQL. */
  private get primary(): boolean {
    return this.o.breaker.state === 'closed' && this.remote.databaseId !== undefined && !this.suspect;
  }

  private refreshGauges(): void {
    if (this.quiet) return;
    this.o.observer?.replication({
      pendingSync: this.pendingSync,
      lagSeconds: this.oldestPendingAt === null ? 0 : Math.max(0, (Date.now() - this.oldestPendingAt) / 1000),
      activeBackend: this.primary ? 'postgres' : 'sqlite',
    });
  }

  /**
   * The outbox length is kept as exact deltas (+rows per write, -rows per acknowledged delete),
   * which commute, so it is right whatever order writes and acknowledgements interleave in.
   */
  private async shrunk(removed: number): Promise<void> {
    this.pending -= removed;
    try {
      const oldest = await this.outbox.oldestCreatedAt();
      this.oldestPendingAt = oldest ?? (this.pending > 0 ? Date.now() : null);
    } catch {
      // Only the lag gauge depends on it; the next acknowledgement corrects it.
    }
    this.refreshGauges();
  }

  private get pendingSync(): number {
    return Math.max(0, this.pending);
  }

  // ---- writes -------------------------------------------------------------------------------

  async apply(mutations: Mutation[]): Promise<void> {
    if (mutations.length === 0) return;
    const observe = this.o.observe('sqlite');
    const started = performance.now();
    try {
      await this.localDb.transaction().execute(async (trx) => {
        for (const m of mutations) await applyMutation(asShared(trx), m);
        await this.outbox.append(trx, mutations);
      });
    } finally {
      observe('apply', (performance.now() - started) / 1000);
    }
    this.pending += mutations.length;
    this.oldestPendingAt ??= Date.now();
    this.refreshGauges();
    this.replicator.kick();
  }

  /** Marks this instance's replies left streaming by a crash; replicated like any other write. */
  async markInterrupted(): Promise<number> {
    const rows = await this.localDb.selectFrom('messages').selectAll().where('status', '=', 'streaming').execute();
    if (rows.length === 0) return 0;
    const now = new Date().toISOString();
    await this.apply(rows.map((r) => ({ kind: 'message.upsert', row: { ...toMessage(r), status: 'interrupted', updatedAt: now } })));
    return rows.length;
  }

  // ---- reads --------------------------------------------------------------------------------

  /**
   * Runs a PostgreSQL read through the breaker, giving up after readTimeoutMs (the read itself is
   * then stopped by the pool's query timeout and counts as a failure if it fails).
   */
  private async fromRemote<T>(read: (remote: KyselyStore) => Promise<T>): Promise<Attempt<T>> {
    if (!this.primary) return { ok: false };
    const remote = this.remote;
    const call = this.o.breaker.run(() => read(remote.store));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<typeof EXPIRED>((resolve) => {
      timer = setTimeout(() => resolve(EXPIRED), this.o.readTimeoutMs);
    });
    try {
      const result = await Promise.race([call, expired]);
      if (result === EXPIRED) {
        this.suspect = true;
        call.catch(() => {});
        this.readFallbacks++;
        return { ok: false };
      }
      return { ok: true, value: result };
    } catch (err) {
      this.readFallbacks++;
      this.log.debug({ err: (err as Error).message }, 'PostgreSQL read failed; served from SQLite');
      return { ok: false };
    } finally {
      clearTimeout(timer);
    }
  }

  private async read<T>(remote: (s: KyselyStore) => Promise<T>, local: () => Promise<T>): Promise<T> {
    const attempt = await this.fromRemote(remote);
    return attempt.ok ? attempt.value : local();
  }

  async getConversation(id: string): Promise<Conversation | undefined> {
    const pending = await this.outbox.pendingFor(id);
    if (pending.conversation || pending.deleted) return this.local.getConversation(id);
    const found = await this.read((s) => s.getConversation(id), () => this.local.getConversation(id));
    return found ?? (pending.any ? this.local.getConversation(id) : undefined);
  }

  async getConversationWithMessages(id: string): Promise<ConversationWithMessages | undefined> {
    const pending = await this.outbox.pendingFor(id);
    if (!pending.any) return this.read((s) => s.getConversationWithMessages(id), () => this.local.getConversationWithMessages(id));
    const local = await this.local.getConversationWithMessages(id);
    if (pending.deleted || local === undefined) return local;
    const remote = await this.fromRemote((s) => s.getConversationWithMessages(id));
    if (!remote.ok || remote.value === undefined) return local;
    const conversation = pending.conversation ? local : remote.value;
    return { ...toPlain(conversation), messages: mergeMessages(remote.value.messages, local.messages, pending) };
  }

  async findConversationBySource(sourceKey: string): Promise<Conversation | undefined> {
    const local = await this.local.findConversationBySource(sourceKey);
    if (local) return local;
    const remote = await this.fromRemote((s) => s.findConversationBySource(sourceKey));
    return remote.ok ? remote.value : undefined;
  }

  /** This instance's unpushed version wins; otherwise PostgreSQL's (where other instances write). */
  async getMessage(id: string): Promise<Message | undefined> {
    const local = await this.local.getMessage(id);
    if (local && (await this.outbox.pendingIds(this.localDb, [id])).has(id)) return local;
    const remote = await this.fromRemote((s) => s.getMessage(id));
    return remote.ok ? (remote.value ?? local) : local;
  }

  async listMessages(conversationId: string): Promise<Message[]> {
    const pending = await this.outbox.pendingFor(conversationId);
    if (!pending.any) return this.read((s) => s.listMessages(conversationId), () => this.local.listMessages(conversationId));
    const local = await this.local.listMessages(conversationId);
    if (pending.deleted) return local;
    const remote = await this.fromRemote((s) => s.listMessages(conversationId));
    return remote.ok ? mergeMessages(remote.value, local, pending) : local;
  }

  /** PostgreSQL's index while it serves reads (it has every instance's writes), else the replica's. */
  search(q: string, limit: number): Promise<SearchHit[]> {
    return this.read((s) => s.search(q, limit), () => this.local.search(q, limit));
  }

  async listConversations(options: ListOptions): Promise<Page<Conversation>> {
    if (options.cursor !== undefined) decodeCursor(options.cursor);
    const dirty = await this.outbox.dirtyConversations(MAX_OVERLAY);
    if (dirty.length === 0) return this.read((s) => s.listConversations(options), () => this.local.listConversations(options));
    if (dirty.length > MAX_OVERLAY) return this.local.listConversations(options);
    const remote = await this.fromRemote((s) => s.listConversations(options));
    if (!remote.ok) return this.local.listConversations(options);
    return this.overlay(remote.value, new Set(dirty), options);
  }

  /**
   * A PostgreSQL page with this instance's unpushed conversations laid over it: their local
   * version replaces (or adds to, or, when deleted, removes from) the page, within the page's key
   * range so paging stays exact.
   */
  private async overlay(page: Page<Conversation>, dirty: Set<string>, { limit, cursor }: ListOptions): Promise<Page<Conversation>> {
    const upper = cursor === undefined ? undefined : decodeCursor(cursor);
    const lastRemote = page.items[page.items.length - 1];
    const lower = page.nextCursor !== null && lastRemote ? lastRemote : undefined;
    const mine: Conversation[] = [];
    for (const part of chunks([...dirty], ID_CHUNK)) {
      const rows = await this.localDb.selectFrom('conversations').selectAll().where('id', 'in', part).execute();
      mine.push(...rows.map(toConversation));
    }
    const inRange = (c: Conversation): boolean =>
      (upper === undefined || c.updatedAt < upper.updatedAt || (c.updatedAt === upper.updatedAt && c.id < upper.id)) &&
      (lower === undefined || byRecency(c, lower) <= 0);
    const merged = [...page.items.filter((c) => !dirty.has(c.id)), ...mine.filter(inRange)].sort(byRecency);
    const items = merged.slice(0, limit);
    const last = items[items.length - 1];
    let nextCursor: string | null = null;
    if (merged.length > limit && last) nextCursor = encodeCursor(last);
    else if (page.nextCursor !== null) nextCursor = last ? encodeCursor(last) : page.nextCursor;
    return { items, nextCursor };
  }

  // ---- status and lifecycle -----------------------------------------------------------------

  health(): StoreHealth {
    return {
      backend: 'postgres',
      mode: this.primary ? 'primary' : 'fallback',
      breaker: this.o.breaker.state,
      pendingSync: this.pendingSync,
    };
  }

  sync(): SyncStatus {
    const s = this.replicator.stats;
    return {
      target: this.remote.target.label,
      ready: this.remote.databaseId !== undefined,
      pendingSync: this.pendingSync,
      oldestPendingSeconds: this.oldestPendingAt === null ? null : Math.max(0, (Date.now() - this.oldestPendingAt) / 1000),
      deadLetters: s.deadLetters,
      pushedRows: s.pushedRows,
      pulledRows: s.pulledRows,
      droppedRows: s.droppedRows,
      readFallbacks: this.readFallbacks,
      lastPushAt: s.lastPushAt,
      lastPullAt: s.lastPullAt,
      lastError: s.lastError,
    };
  }

  /** Local-first: the instance can serve as long as its SQLite replica can. */
  async ping(): Promise<void> {
    await this.local.ping();
  }

  /**
   * Points replication and reads at another PostgreSQL URL. The outbox stays where it is (in
   * SQLite) and drains to the new target; the breaker starts over, closed, for it.
   */
  async reconfigure(databaseUrl: string): Promise<void> {
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
      throw new ConfigError('DATABASE_URL: switching between SQLite and PostgreSQL needs a restart');
    }
    const previous = this.remote;
    const next = new Remote(this.o.connect(databaseUrl), this.o.observe('postgres'), this.log);
    this.remote = next;
    this.log.info({ from: previous.target.label, to: next.target.label }, 'PostgreSQL target changed');
    // The pass in flight finishes against the old target first, so pushes never overlap.
    await this.replicator.idle();
    this.o.breaker.reset();
    this.refreshGauges();
    this.replicator.requestPull();
    void previous.target.close();
  }

  /**
   * Before a live switch to SQLite mode: stops replication after the batch in flight, so the
   * replica no longer changes except by this store's own writes (held during the switch). Reads
   * keep working. What is still in the outbox stays there for the next PostgreSQL run.
   */
  async quiesce(): Promise<void> {
    // The gauges belong to the store that takes over from here.
    this.quiet = true;
    clearInterval(this.gaugeTimer);
    await this.replicator.close();
  }

  async close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.gaugeTimer);
      this.offTransition();
      this.offEvent();
      await this.replicator.close();
      await this.remote.target.close();
      await this.local.close();
    })();
    return this.closing;
  }

  /** Test and bench hook: resolves when the replicator has nothing left to do right now. */
  async settle(): Promise<void> {
    await this.replicator.idle();
  }
}

const toPlain = (c: Conversation): Conversation => ({
  id: c.id,
  title: c.title,
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
  activeLeafId: c.activeLeafId ?? null,
  model: c.model ?? null,
  systemPrompt: c.systemPrompt ?? null,
  sourceKey: c.sourceKey ?? null,
});

/** PostgreSQL's messages with this instance's unpushed versions (and unpushed new ones) on top. */
function mergeMessages(remote: Message[], local: Message[], pending: PendingForConversation): Message[] {
  const byId = new Map(remote.map((m) => [m.id, m]));
  for (const m of local) if (pending.messageIds.has(m.id) || !byId.has(m.id)) byId.set(m.id, m);
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
