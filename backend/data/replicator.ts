import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { BreakerOpenError, type Breaker, type BreakerTransition } from '../breaker/breaker.js';
import { applyMutation, toConversation, toMessage, toValidation, validationRow, type QueryObserver } from './kysely-store.js';
import { chunks, ID_CHUNK, type Outbox, type OutboxEntry } from './outbox.js';
import { classifyPostgresError } from './postgres.js';
import { pushBatch, readChanges, type ChangePage, type RemoteWriter } from './remote-sync.js';
import type { ConversationsTable } from './schema.js';
import { asShared, type LocalDatabase, type RemoteDatabase } from './sync-schema.js';

/** The PostgreSQL target the replicator currently talks to (it changes on live reconfiguration). */
export interface RemoteEndpoint extends RemoteWriter {
  readonly db: Kysely<RemoteDatabase>;
  /** Migrates the target once and returns its database id; rejects while it is unreachable. */
  ready(): Promise<string>;
}

export interface ReplicatorOptions {
  local: Kysely<LocalDatabase>;
  outbox: Outbox;
  breaker: Breaker;
  remote: () => RemoteEndpoint;
  logger: Logger;
  /** Observes PostgreSQL calls (operation 'replicate' and 'pull'). */
  observe: QueryObserver;
  pullIntervalMs: number;
  /** Outbox rows per PostgreSQL transaction. */
  batchSize?: number;
  /** Pushes per pull window. */
  pullWindow?: number;
  /** Delay before retrying after a failure while the breaker is still closed. */
  retryDelayMs?: number;
  /** Called after outbox rows left (acknowledged or moved to the dead-letter table). */
  onOutboxShrunk: (removed: number) => void;
  /**
   * Called with the conversations replication changed: a pull changed them here, or a push
   * changed what PostgreSQL-backed reads return on every instance. For cache invalidation: an
   * instance that re-read a row before the push must not keep serving it.
   */
  onReplicated?: (conversationIds: string[]) => void;
}

export interface ReplicatorStats {
  pushedRows: number;
  pushedBatches: number;
  droppedRows: number;
  pulledRows: number;
  deadLetters: number;
  lastPushAt: string | null;
  lastPullAt: string | null;
  lastError: string | null;
}

/** Batches pushed before a due pull gets its turn. */
const YIELD_AFTER_BATCHES = 8;

const cursorKey = (databaseId: string): string => `pull-cursor:${databaseId}`;

/**
 * Moves writes between the local replica and PostgreSQL, one step at a time (never two pushes in
 * flight, so PostgreSQL sees the outbox in order):
 * - drain: push the oldest outbox rows through the breaker, delete them once PostgreSQL committed;
 * - pull: copy rows other instances wrote (above this replica's cursor) into SQLite, leaving any
 *   row with un-replicated local changes alone.
 * It wakes on every local write (kick), on every breaker transition to half-open or closed (the
 * first call then is the single probe), and on the pull interval.
 */
export class Replicator {
  private readonly log: Logger;
  private readonly batchSize: number;
  private readonly pullWindow: number;
  private readonly retryDelayMs: number;
  private batchLimit: number;
  private wanted = false;
  private pullWanted = true;
  private running: Promise<void> | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly pullTimer: NodeJS.Timeout;
  private readonly offTransition: () => void;
  private readonly ownSeqs = new Map<string, Set<number>>();
  readonly stats: ReplicatorStats = {
    pushedRows: 0,
    pushedBatches: 0,
    droppedRows: 0,
    pulledRows: 0,
    deadLetters: 0,
    lastPushAt: null,
    lastPullAt: null,
    lastError: null,
  };

  constructor(private readonly o: ReplicatorOptions) {
    this.log = o.logger.child({ component: 'replicator' });
    this.batchSize = o.batchSize ?? 500;
    this.pullWindow = o.pullWindow ?? 50;
    this.retryDelayMs = o.retryDelayMs ?? 200;
    this.batchLimit = this.batchSize;
    this.offTransition = o.breaker.onTransition((t: BreakerTransition) => {
      if (t.to === 'halfOpen' || t.to === 'closed') {
        this.pullWanted = true;
        this.kick();
      }
    });
    this.pullTimer = setInterval(() => {
      if (this.o.breaker.state === 'open') return;
      this.pullWanted = true;
      this.kick();
    }, o.pullIntervalMs);
    this.pullTimer.unref();
  }

  /** Something changed (a write, a transition): run a pass soon. Never throws. */
  kick(): void {
    if (this.closed) return;
    this.wanted = true;
    this.running ??= this.pump().finally(() => {
      this.running = undefined;
      if (this.wanted && !this.closed) this.kick();
    });
  }

  /** Asks for a pull on the next pass (after live reconfiguration, for example). */
  requestPull(): void {
    this.pullWanted = true;
    this.kick();
  }

  /** Resolves when the current pass (if any) finished. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pullTimer);
    clearTimeout(this.retryTimer);
    this.offTransition();
    await this.running;
  }

  private async pump(): Promise<void> {
    try {
      while (this.wanted && !this.closed) {
        this.wanted = false;
        const drained = await this.drain();
        if (drained === 'failed') return;
        // Under steady writes the outbox never runs empty: pull in between, then go on.
        if (drained === 'yielded') this.wanted = true;
        if (this.pullWanted) {
          this.pullWanted = false;
          if (!(await this.pull())) return;
        }
      }
    } catch (err) {
      // A local (SQLite) failure: nothing is lost, the rows are still in the outbox.
      this.stats.lastError = (err as Error).message;
      this.log.error({ err: (err as Error).message }, 'replication pass failed');
      this.retryLater();
    }
  }

  private retryLater(): void {
    if (this.closed || this.retryTimer) return;
    // While the breaker is open its reset timer wakes us (half-open); until then keep trying so
    // consecutive failures reach the threshold even without user traffic.
    if (this.o.breaker.state === 'open') return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, this.retryDelayMs);
    this.retryTimer.unref();
  }

  /** Runs one PostgreSQL call through the breaker and, whatever happens, waits for it to end. */
  private async call<T>(operation: string, work: (remote: RemoteEndpoint) => Promise<T>): Promise<T> {
    let inner: Promise<T> | undefined;
    const started = performance.now();
    try {
      return await this.o.breaker.run(() => {
        inner = work(this.o.remote());
        return inner;
      });
    } catch (err) {
      // The breaker may have given up (timeout) while the work still runs; it ends on its own
      // (query and statement timeouts) and must finish before the next step starts.
      await inner?.catch(() => {});
      throw err;
    } finally {
      if (inner) this.o.observe(operation, (performance.now() - started) / 1000);
    }
  }

  /**
   * Pushes until the outbox is empty, a failure stops it, or (when a pull is due) a few batches
   * went out, so pulls are not starved by a steady stream of writes.
   */
  private async drain(): Promise<'empty' | 'yielded' | 'failed'> {
    let batches = 0;
    while (!this.closed) {
      if (this.o.breaker.state === 'open') return 'failed';
      if (this.pullWanted && batches >= YIELD_AFTER_BATCHES) return 'yielded';
      const entries = await this.o.outbox.read(this.batchLimit);
      const last = entries[entries.length - 1];
      if (!last) return 'empty';
      batches++;
      try {
        const { databaseId, result } = await this.call('replicate', async (remote) => {
          const id = await remote.ready();
          return { databaseId: id, result: await pushBatch(remote, entries.map((e) => e.mutation)) };
        });
        this.ownSeqsOf(databaseId).add(result.seq);
        const removed = await this.o.outbox.ack(last.seq);
        this.stats.pushedRows += removed;
        this.stats.pushedBatches++;
        this.stats.droppedRows += result.dropped;
        this.stats.lastPushAt = new Date().toISOString();
        if (result.dropped > 0) this.log.info({ dropped: result.dropped }, 'writes to conversations deleted elsewhere were dropped');
        this.o.onOutboxShrunk(removed);
        if (result.merged.length > 0) await this.adoptMerged(result.merged);
        const pushed = new Set<string>();
        for (const e of entries) {
          const m = e.mutation;
          if (m.kind === 'conversation.upsert') pushed.add(m.row.id);
          else if (m.kind === 'conversation.delete') pushed.add(m.id);
          else if (m.kind === 'message.upsert') pushed.add(m.row.conversationId);
        }
        if (pushed.size > 0) this.o.onReplicated?.([...pushed]);
        if (this.batchLimit < this.batchSize) this.batchLimit = Math.min(this.batchSize, this.batchLimit * 2);
      } catch (err) {
        if (err instanceof BreakerOpenError) return 'failed';
        this.stats.lastError = (err as Error).message;
        const kind = classifyPostgresError(err);
        if (kind === 'data') {
          await this.isolate(entries, err as Error);
          continue;
        }
        this.log.debug({ err: (err as Error).message, kind }, 'push failed; the rows stay in the outbox');
        this.retryLater();
        return 'failed';
      }
    }
    return 'failed';
  }

  /**
   * PostgreSQL refused a batch for its data, not because it is down. Narrow down to the one row
   * and set it aside (outbox_dead, logged) so everything behind it keeps flowing.
   */
  private async isolate(entries: OutboxEntry[], err: Error): Promise<void> {
    const first = entries[0];
    if (entries.length > 1 || !first) {
      this.batchLimit = 1;
      return;
    }
    // The store counts waiting writes by deltas: only a row that really left the outbox counts.
    if (!(await this.o.outbox.bury(first, err.message))) return;
    this.stats.deadLetters++;
    this.log.error(
      { seq: first.seq, kind: first.mutation.kind, err: err.message },
      'PostgreSQL refused a write; it is kept in the outbox_dead table of the local replica',
    );
    this.o.onOutboxShrunk(1);
  }

  /** Pulls every window up to the newest committed push; false when PostgreSQL failed. */
  private async pull(): Promise<boolean> {
    for (;;) {
      if (this.closed || this.o.breaker.state === 'open') return false;
      let page: ChangePage;
      let databaseId: string;
      try {
        ({ page, databaseId } = await this.call('pull', async (remote) => {
          const id = await remote.ready();
          const after = await this.cursor(id);
          const own = [...this.ownSeqsOf(id)].filter((seq) => seq > after);
          return { databaseId: id, page: await readChanges(remote.db, after, this.pullWindow, own) };
        }));
      } catch (err) {
        if (err instanceof BreakerOpenError) return false;
        this.stats.lastError = (err as Error).message;
        this.log.debug({ err: (err as Error).message }, 'pull failed');
        // The retry pass must pull again, not only drain.
        this.pullWanted = true;
        this.retryLater();
        return false;
      }
      await this.applyPage(databaseId, page);
      const own = this.ownSeqsOf(databaseId);
      for (const seq of own) if (seq <= page.upTo) own.delete(seq);
      this.stats.lastPullAt = new Date().toISOString();
      if (page.upTo >= page.head) return true;
    }
  }

  /**
   * Seqs of pushes this replica made and has not pulled past yet. Rows whose latest seq is one of
   * them were last written by this replica, exactly as it has them: pulling them back is skipped.
   * Kept in memory: after a restart they are pulled back once, which is harmless.
   */
  private ownSeqsOf(databaseId: string): Set<number> {
    let set = this.ownSeqs.get(databaseId);
    if (!set) {
      set = new Set();
      this.ownSeqs.set(databaseId, set);
    }
    return set;
  }

  private async cursor(databaseId: string): Promise<number> {
    const row = await this.o.local.selectFrom('sync_state').select('value').where('key', '=', cursorKey(databaseId)).executeTakeFirst();
    return row ? Number(row.value) : 0;
  }

  /**
   * Takes PostgreSQL's version of conversations a push merged with a later write from another
   * instance: this replica skips its own pushes when pulling, so it would keep its own version
   * otherwise. A conversation written here again meanwhile keeps the newer local write, which the
   * next push merges in turn. A crash before this runs is covered too: own pushes are not
   * remembered across a restart, so the next pull brings them back.
   */
  private async adoptMerged(rows: ConversationsTable[]): Promise<void> {
    await this.o.local.transaction().execute(async (trx) => {
      const pending = await this.o.outbox.pendingIds(trx, rows.map((c) => c.id));
      for (const c of rows) {
        if (pending.has(c.id)) continue;
        const exists = await trx.selectFrom('conversations').select('id').where('id', '=', c.id).executeTakeFirst();
        // Deleted here since the push: the delete is on its way and wins.
        if (!exists) continue;
        await applyMutation(asShared(trx), { kind: 'conversation.upsert', row: toConversation(c) });
      }
    });
    this.log.debug({ conversations: rows.length }, 'took merged conversation fields from PostgreSQL');
  }

  /** Applies one window locally, in one transaction, and moves the cursor past it. */
  async applyPage(databaseId: string, page: ChangePage): Promise<void> {
    const touched = new Set<string>();
    let applied = 0;
    await this.o.local.transaction().execute(async (trx) => {
      // Checked inside the transaction: a local write committed a moment ago must win.
      const pending = await this.o.outbox.pendingIds(trx, [
        ...page.conversations.map((c) => c.id),
        ...page.messages.map((m) => m.id),
        ...page.validations.map((v) => v.id),
      ]);
      for (const c of page.conversations) {
        if (pending.has(c.id)) continue;
        await applyMutation(asShared(trx), { kind: 'conversation.upsert', row: toConversation(c) });
        touched.add(c.id);
        applied++;
      }
      const parents = new Set<string>();
      for (const part of chunks([...new Set(page.messages.map((m) => m.conversation_id))], ID_CHUNK)) {
        for (const r of await trx.selectFrom('conversations').select('id').where('id', 'in', part).execute()) parents.add(r.id);
      }
      for (const m of page.messages) {
        // A reply still streaming on another instance arrives when it is finished (its final
        // write gets a later seq), so local 'streaming' rows are always this instance's own.
        if (pending.has(m.id) || m.status === 'streaming' || !parents.has(m.conversation_id)) continue;
        await applyMutation(asShared(trx), { kind: 'message.upsert', row: toMessage(m) });
        touched.add(m.conversation_id);
        applied++;
      }
      for (const v of page.validations) {
        if (pending.has(v.id)) continue;
        const row = validationRow(toValidation(v));
        await trx.insertInto('validations').values(row).onConflict((oc) => oc.column('id').doNothing()).execute();
        applied++;
      }
      // Delete wins, even over local changes not yet pushed: PostgreSQL drops those on arrival.
      for (const id of page.deletedConversations) {
        await applyMutation(asShared(trx), { kind: 'conversation.delete', id });
        touched.add(id);
        applied++;
      }
      await trx
        .insertInto('sync_state')
        .values({ key: cursorKey(databaseId), value: String(page.upTo) })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(page.upTo) }))
        .execute();
    });
    this.stats.pulledRows += applied;
    if (touched.size > 0) this.o.onReplicated?.([...touched]);
  }
}
