import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { maskUrl } from '../config/secrets.js';
import { newId } from './ids.js';
import { postgresSearchMigrations, SEARCH_MIGRATIONS_TABLE } from './migrations/search.js';
import { migrate, MigrationError } from './migrate.js';
import type { Database } from './schema.js';

/**
 * The PostgreSQL connection of PostgreSQL mode. Every timeout here is below the breaker's, so the
 * work really stops when a call is given up on (opossum cancels nothing by itself):
 * - connectionTimeoutMillis bounds connecting and waiting for a free client;
 * - statement_timeout makes the server cancel a slow statement (the connection survives);
 * - query_timeout is the client-side backstop for when no answer comes at all (a partition);
 * - idle_in_transaction_session_timeout frees the row locks of an instance that vanished
 *   mid-transaction, so one partitioned instance cannot stall the others' replication.
 */
export interface PostgresOptions {
  url: string;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  logger: Logger;
  /** Pool size; reads and replication share it. */
  max?: number;
}

export interface PostgresTarget {
  readonly db: Kysely<Database>;
  /** The URL with its password masked, for logs and status. */
  readonly label: string;
  /**
   * Runs `fn` with one raw client of the pool (the replicator needs one round trip that Kysely
   * cannot express); the client is destroyed instead of reused if it failed.
   */
  withClient<T>(fn: (client: RawClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The part of a pg client the replicator uses. */
export interface RawClient {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** A simple-protocol query (no parameters): several statements, one round trip. */
  queryMany(text: string): Promise<pg.QueryResult[]>;
}

const INT8_OID = 20;

/** int8 (count(*), BIGINT sync seqs) as a number: every value Orchestra stores fits in 2^53. */
const parseInt8 = (value: string): number => Number(value);
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : (pg.types.getTypeParser(oid, format ?? 'text') as unknown)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * How a PostgreSQL error is handled:
 * - outage: PostgreSQL is unavailable (network, timeouts, authentication, shutting down or
 *   starting up, a migration refused): counts toward opening the breaker;
 * - transient: PostgreSQL answered but could not do it now (a row lock held by another instance,
 *   a deadlock, a serialization conflict): retried, not counted;
 * - data: the write itself is refused (constraint, invalid value): set aside, not counted.
 */
export type PostgresErrorKind = 'outage' | 'transient' | 'data';

export function classifyPostgresError(err: unknown): PostgresErrorKind {
  if (err instanceof MigrationError) return 'outage';
  if (err instanceof pg.DatabaseError) {
    const code = err.code ?? '';
    if (code === '55P03' || code === '40001' || code === '40P01') return 'transient';
    const cls = code.slice(0, 2);
    return ['08', '25', '28', '3D', '53', '55', '57', '58', 'XX'].includes(cls) ? 'outage' : 'data';
  }
  return 'outage';
}

/** The breaker's filter: only outages count toward opening it. */
export const isPostgresFailure = (err: unknown): boolean => classifyPostgresError(err) === 'outage';

/** True when a client must not go back to the pool: it may still be waiting for an answer. */
function poisonsClient(err: unknown): boolean {
  if (!(err instanceof pg.DatabaseError)) return true;
  const cls = (err.code ?? '').slice(0, 2);
  return cls === '08' || cls === '57' || cls === 'XX';
}

export function openPostgres(options: PostgresOptions): PostgresTarget {
  const q = options.queryTimeoutMs;
  const log = options.logger.child({ component: 'postgres' });
  const label = maskUrl(options.url);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: options.connectTimeoutMs,
    query_timeout: q,
    statement_timeout: Math.max(1, Math.floor(q * 0.9)),
    lock_timeout: Math.max(1, Math.floor(q * 0.8)),
    idle_in_transaction_session_timeout: Math.max(1000, 2 * q),
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'orchestra',
    types,
  });
  const broken = new WeakSet<pg.PoolClient>();
  // An 'error' with no listener kills the process. The pool's own listener covers idle clients;
  // this one stays on each client for its whole life, so a checked-out client is covered too.
  pool.on('error', (err) => log.debug({ err: err.message }, 'an idle PostgreSQL connection failed'));
  pool.on('connect', (client) => {
    client.on('error', (err) => {
      broken.add(client);
      log.debug({ err: err.message }, 'a PostgreSQL connection failed');
    });
  });

  // Kysely returns a client to the pool after a failed query unless ROLLBACK also failed; a
  // client whose query timed out on the client side still has that query outstanding, so it is
  // destroyed instead of being handed to the next caller.
  const kyselyPool: PostgresPool = {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      const wrapped = {
        query: async (text: string, params: readonly unknown[]) => {
          try {
            return await client.query(text, params as unknown[]);
          } catch (err) {
            if (poisonsClient(err)) broken.add(client);
            throw err;
          }
        },
        release: (destroy?: boolean) => client.release(destroy === true || broken.has(client) ? true : undefined),
      };
      return wrapped as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: kyselyPool }) });
  const withClient = async <T>(fn: (client: RawClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    const guard = async <R>(work: () => Promise<R>): Promise<R> => {
      try {
        return await work();
      } catch (err) {
        if (poisonsClient(err)) broken.add(client);
        throw err;
      }
    };
    const raw: RawClient = {
      query: <R extends pg.QueryResultRow>(text: string, params: unknown[] = []) => guard(() => client.query<R>(text, params)),
      queryMany: (text: string) =>
        guard(async () => {
          const result = (await client.query(text)) as pg.QueryResult | pg.QueryResult[];
          return Array.isArray(result) ? result : [result];
        }),
    };
    try {
      return await fn(raw);
    } finally {
      client.release(broken.has(client) ? true : undefined);
    }
  };
  let closed: Promise<void> | undefined;
  return {
    db,
    label,
    withClient,
    close: () => (closed ??= db.destroy().catch((err: unknown) => log.debug({ err: (err as Error).message }, 'closing the pool failed'))),
  };
}

const MIGRATION_LOCK = sql`SELECT pg_advisory_xact_lock(hashtext('orchestra:migrate'))`;

/**
 * Applies the shared migration set to PostgreSQL (instances starting together take turns on an
 * advisory lock) and returns the database's identity, which keys the pull cursor: a new target
 * is pulled from the start, the same one resumes where it was.
 */
export async function preparePostgres(db: Kysely<Database>): Promise<{ databaseId: string; applied: number[] }> {
  const lock = async (trx: Kysely<Database>): Promise<void> => void (await MIGRATION_LOCK.execute(trx));
  const applied = await migrate(db, { lock });
  await migrate(db, { lock, migrations: postgresSearchMigrations, table: SEARCH_MIGRATIONS_TABLE });
  await sql`UPDATE sync_clock SET database_id = ${newId()} WHERE id = 1 AND database_id IS NULL`.execute(db);
  const row = await sql<{ database_id: string | null }>`SELECT database_id FROM sync_clock WHERE id = 1`.execute(db);
  const databaseId = row.rows[0]?.database_id;
  if (!databaseId) throw new MigrationError('the sync_clock row of this PostgreSQL database is missing; it was not created by Orchestra');
  return { databaseId, applied };
}
