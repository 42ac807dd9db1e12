import path from 'node:path';
import type { Logger } from 'pino';
import type { BreakerRegistry } from '../breaker/breaker.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load.js';
import { KyselyStore, type QueryObserver } from './kysely-store.js';
import { migrate } from './migrate.js';
import { LOCAL_MIGRATIONS_TABLE, localMigrations } from './migrations/local.js';
import type { ReplicationObserver } from './observer.js';
import { SEARCH_MIGRATIONS_TABLE, sqliteSearchMigrations } from './migrations/search.js';
import { openSqlite, sqlitePath } from './sqlite.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  observe: (backend: 'sqlite' | 'postgres') => QueryObserver;
  breakers: BreakerRegistry;
  logger: Logger;
  /** PostgreSQL mode reports its outbox, lag and active backend here. */
  replication?: ReplicationObserver;
  /** PostgreSQL mode: called with the conversations a pull changed locally. */
  onReplicated?: (conversationIds: string[]) => void;
  /** PostgreSQL mode, tests and benchmarks: replication batch size and retry delay. */
  tuning?: { batchSize?: number; retryDelayMs?: number };
}

export const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//.test(url);

/** The local replica of PostgreSQL mode; separate from SQLite mode's app.db. */
export const replicaPath = (dataDir: string): string => path.join(dataDir, 'replica.db');

/** The breaker's limit for one PostgreSQL call: above PostgreSQL's own timeouts, so they fire first. */
export function postgresBreakerTimeout(config: Config): number {
  const timeout = config.dbBreakerTimeoutMs ?? config.dbConnectTimeoutMs + config.dbQueryTimeoutMs + 500;
  if (timeout <= Math.max(config.dbQueryTimeoutMs, config.dbConnectTimeoutMs)) {
    throw new ConfigError(
      `DB_BREAKER_TIMEOUT_MS=${timeout} must be above DB_QUERY_TIMEOUT_MS=${config.dbQueryTimeoutMs} and DB_CONNECT_TIMEOUT_MS=${config.dbConnectTimeoutMs}, so PostgreSQL's own timeouts stop a call before the breaker gives up on it`,
    );
  }
  return timeout;
}

async function openLocal(file: string, logger: Logger, withReplicaTables: boolean) {
  const { db } = openSqlite(file);
  try {
    const applied = await migrate(db);
    const local = withReplicaTables ? await migrate(db, { migrations: localMigrations, table: LOCAL_MIGRATIONS_TABLE }) : [];
    const search = await migrate(db, { migrations: sqliteSearchMigrations, table: SEARCH_MIGRATIONS_TABLE });
    if (applied.length + local.length + search.length > 0) logger.info({ applied, local, search, backend: 'sqlite', file }, 'migrations applied');
    return db;
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

/** Opens the store DATABASE_URL names, with migrations applied. */
export async function openStore(config: Config, options: OpenStoreOptions): Promise<Store> {
  if (config.databaseUrl.startsWith('sqlite:')) {
    const db = await openLocal(sqlitePath(config.databaseUrl), options.logger, false);
    return new KyselyStore(db, 'sqlite', options.observe('sqlite'));
  }
  if (!isPostgresUrl(config.databaseUrl)) throw new ConfigError('DATABASE_URL: expected a sqlite:///path or postgres://… URL');

  // The PostgreSQL driver and the replicator are loaded only in PostgreSQL mode.
  const [{ isPostgresFailure, openPostgres }, { ReplicatedStore }] = await Promise.all([import('./postgres.js'), import('./replicated-store.js')]);
  const breakerTimeout = postgresBreakerTimeout(config);
  const local = await openLocal(replicaPath(config.dataDir), options.logger, true);
  const breaker = options.breakers.create('postgres', {
    threshold: config.circuitBreakerThreshold,
    resetTimeoutMs: config.circuitBreakerResetMs,
    timeoutMs: breakerTimeout,
    isFailure: isPostgresFailure,
  });
  try {
    const store = await ReplicatedStore.open({
      local,
      url: config.databaseUrl,
      connect: (url) =>
        openPostgres({ url, connectTimeoutMs: config.dbConnectTimeoutMs, queryTimeoutMs: config.dbQueryTimeoutMs, logger: options.logger }),
      breaker,
      logger: options.logger,
      observe: options.observe,
      readTimeoutMs: config.dbQueryTimeoutMs,
      pullIntervalMs: config.dbPullIntervalMs,
      ...(options.replication ? { observer: options.replication } : {}),
      ...(options.onReplicated ? { onReplicated: options.onReplicated } : {}),
      ...options.tuning,
    });
    return store;
  } catch (err) {
    options.breakers.remove('postgres');
    await local.destroy();
    throw err;
  }
}
