import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * The SQLite full-text indexes take what the triggers queue in search_queue (search migration 3)
 * in batches: the row writes of a chat turn only append to the queue, and the queue is applied a
 * moment later in one transaction, and always before a search runs, so a search sees every write
 * made before it.
 *
 * Why: FTS5 writes a new segment of its index for every transaction that changes it, and merges
 * segments as they pile up. Indexed row by row, inside the group commits of chat turns, full-text
 * indexing cost about as much CPU as writing the rows themselves; a few hundred rows at a time
 * cost a fraction of it.
 *
 * Applying the queue in order (removals carry the exact text that was indexed) leaves the index
 * exactly as the former triggers left it. The queue is written in the same transaction as the
 * rows, so a crash loses nothing: what is still queued is indexed by the next batch or search.
 */

/** How long written rows may wait to be indexed, at most, while nobody searches. */
export const SEARCH_INDEX_DELAY_MS = 100;

/**
 * Indexes everything queued so far, in one transaction, and returns how many changes it applied.
 * Kysely runs one transaction at a time on the SQLite connection, so this never interleaves with
 * a write, and two of them one after the other each take what the other left.
 */
export async function indexQueued(db: Kysely<Database>): Promise<number> {
  // Looked at first without a transaction: BEGIN counts as a write (sqlite.ts), so a batch that
  // opened one to find the queue empty would schedule the next batch, every delay, for ever.
  const { rows: waiting } = await sql<{ id: number }>`SELECT id FROM search_queue LIMIT 1`.execute(db);
  if (waiting.length === 0) return 0;
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ last: number | null; count: number }>`SELECT max(id) AS last, count(*) AS count FROM search_queue`.execute(trx);
    const last = rows[0]?.last ?? null;
    if (last === null) return 0;
    // Row order is queue order (id is the rowid), so a removal comes before the row's new text.
    await sql`INSERT INTO messages_fts (messages_fts, rowid, content)
      SELECT command, row, text FROM search_queue WHERE target = 'message' AND id <= ${last} ORDER BY id`.execute(trx);
    await sql`INSERT INTO conversations_fts (conversations_fts, rowid, title)
      SELECT command, row, text FROM search_queue WHERE target = 'conversation' AND id <= ${last} ORDER BY id`.execute(trx);
    await sql`DELETE FROM search_queue WHERE id <= ${last}`.execute(trx);
    return Number(rows[0]?.count ?? 0);
  });
}

/**
 * Applies the queue SEARCH_INDEX_DELAY_MS after a write, so it stays short while nobody searches.
 * Told of every writing statement on the connection (sqlite.ts); stopped when the connection
 * closes. A batch that fails (the database closing under it, a full disk) leaves the queue as it
 * was, and the next write or search tries again.
 */
export class SearchIndexer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /** Whether a batch is due (the queue may have rows nobody has indexed yet). */
  get scheduled(): boolean {
    return this.timer !== undefined;
  }
  private db: Kysely<Database> | undefined;

  constructor(
    private readonly onError: (err: Error) => void,
    private readonly delayMs = SEARCH_INDEX_DELAY_MS,
  ) {}

  /** The connection's Kysely instance, known only after the connection is wrapped. */
  attach(db: Kysely<Database>): void {
    this.db = db;
  }

  wrote(): void {
    if (this.timer !== undefined || this.stopped || this.db === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const db = this.db;
      if (this.stopped || db === undefined) return;
      indexQueued(db).catch((err: unknown) => {
        if (!this.stopped) this.onError(err instanceof Error ? err : new Error(String(err)));
      });
    }, this.delayMs);
    // Pending indexing never keeps a process alive: the queue is durable.
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
