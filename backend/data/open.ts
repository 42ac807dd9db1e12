import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { BreakerRegistry } from '../breaker/breaker.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load.js';
import { maskUrl } from '../config/secrets.js';
import { KyselyStore, type QueryObserver } from './kysely-store.js';
import { migrate } from './migrate.js';
import { LOCAL_MIGRATIONS_TABLE, localMigrations } from './migrations/local.js';
import type { ReplicationObserver } from './observer.js';
import { SEARCH_MIGRATIONS_TABLE, sqliteSearchMigrations } from './migrations/search.js';
import { indexQueued, SearchIndexer } from './search-index.js';
import { openSqlite, sqlitePath } from './sqlite.js';
import type { Store } from './store.js';
import { carryToReplica, carryToSqlite, clearStaleMark } from './carry-over.js';
import { Outbox } from './outbox.js';
import type { ReplicatedStore } from './replicated-store.js';
import { SwitchableStore } from './switchable-store.js';
import type { LocalDatabase } from './sync-schema.js';

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
  /** PostgreSQL mode, live switch from SQLite: runs on the replica before replication starts. */
  prepare?: (local: Kysely<LocalDatabase>, outbox: Outbox) => Promise<void>;
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
  const searchIndex = new SearchIndexer((err) => logger.warn({ err: err.message, file }, 'could not index written rows for search; the next search will'));
  const { db } = openSqlite(file, {
    backgroundCheckpoints: true,
    onCheckpointFailure: (err) => logger.warn({ err: err.message, file }, 'WAL checkpoints run in the writing thread again: their worker failed'),
    searchIndex,
  });
  try {
    const applied = await migrate(db);
    const local = withReplicaTables ? await migrate(db, { migrations: localMigrations, table: LOCAL_MIGRATIONS_TABLE }) : [];
    const search = await migrate(db, { migrations: sqliteSearchMigrations, table: SEARCH_MIGRATIONS_TABLE });
    if (applied.length + local.length + search.length > 0) logger.info({ applied, local, search, backend: 'sqlite', file }, 'migrations applied');
    // Indexing starts once the queue exists; rows a crash left queued are indexed now.
    searchIndex.attach(db);
    await indexQueued(db);
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
    if (!options.prepare) await clearStaleMark(db, 'sqlite');
    return new KyselyStore(db, 'sqlite', options.observe('sqlite'));
  }
  if (!isPostgresUrl(config.databaseUrl)) throw new ConfigError('DATABASE_URL: expected a sqlite:///path or postgres://… URL');

  // The PostgreSQL driver and the replicator are loaded only in PostgreSQL mode.
  const [{ isPostgresFailure, openPostgres }, { ReplicatedStore }] = await Promise.all([import('./postgres.js'), import('./replicated-store.js')]);
  const breakerTimeout = postgresBreakerTimeout(config);
  const local = await openLocal(replicaPath(config.dataDir), options.logger, true);
  if (!options.prepare) {
    try {
      await clearStaleMark(local, 'postgres');
    } catch (err) {
      await local.destroy();
      throw err;
    }
  }
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
      ...(options.prepare ? { prepare: options.prepare } : {}),
      ...options.tuning,
    });
    return store;
  } catch (err) {
    options.breakers.remove('postgres');
    await local.destroy();
    throw err;
  }
}

export interface SwitchableStoreOptions extends Omit<OpenStoreOptions, 'prepare'> {
  /** After a live switch swapped the store in (the server resets gauges and caches here). */
  onSwitched?: (store: Store) => void;
}

/**
 * The store the server runs on: the one DATABASE_URL names, behind a wrapper that can switch it
 * live to another URL (issue 9):
 * - PostgreSQL -> PostgreSQL: in place, the outbox drains to the new target;
 * - SQLite -> PostgreSQL: app.db's rows are carried into the replica and its outbox, so they
 *   reach the new PostgreSQL; an unreachable server does not stop the switch, the outbox holds
 *   the writes until it answers (the breaker story of PostgreSQL mode);
 * - PostgreSQL -> SQLite: replication stops after its pass in flight, and everything the replica
 *   holds (pending writes included) is carried into the SQLite file.
 * Either way both files end up consistent, so a restart with the new URL finds every row once.
 */
export async function openSwitchableStore(config: Config, options: SwitchableStoreOptions): Promise<SwitchableStore> {
  const { onSwitched, ...openOptions } = options;
  const log = options.logger;
  let currentUrl = config.databaseUrl;
  const initial = await openStore(config, openOptions);

  const check = (url: string): void => {
    if (!url.startsWith('sqlite:') && !isPostgresUrl(url)) throw new ConfigError('DATABASE_URL: expected a sqlite:///path or postgres://… URL');
    if (!isPostgresUrl(url) && sqlitePath(url) === replicaPath(config.dataDir)) {
      throw new ConfigError('DATABASE_URL: the SQLite file cannot be the PostgreSQL replica (replica.db)');
    }
  };

  // First pass, while the current store still takes writes: the bulk of the rows.
  const precopy = async (url: string, current: Store): Promise<void> => {
    check(url);
    if (isPostgresUrl(url) && current.backend === 'sqlite') {
      const appDb = (current as KyselyStore).db;
      // app.db gets the small sync_state table, where the final carry leaves its mark.
      await migrate(appDb, { migrations: localMigrations, table: LOCAL_MIGRATIONS_TABLE });
      const replica = (await openLocal(replicaPath(config.dataDir), log, true)) as unknown as Kysely<LocalDatabase>;
      try {
        await carryToReplica(appDb, replica, new Outbox(replica), maskUrl(url), { final: false });
      } finally {
        await replica.destroy();
      }
    } else if (!isPostgresUrl(url) && current.backend === 'postgres') {
      const appDb = await openLocal(sqlitePath(url), log, true);
      const replica = openSqlite(replicaPath(config.dataDir)).db;
      try {
        await carryToSqlite(replica, appDb, maskUrl(currentUrl), { final: false });
      } finally {
        await replica.destroy();
        await appDb.destroy();
      }
    }
  };

  // With writes held: what changed since the first pass, then the swap.
  const switchTo = async (url: string, current: Store): Promise<Store> => {
    check(url);
    if (isPostgresUrl(url) && current.backend === 'postgres') {
      if (!current.reconfigure) throw new ConfigError('DATABASE_URL: this store cannot switch PostgreSQL servers live');
      await current.reconfigure(url);
      currentUrl = url;
      return current;
    }
    let next: Store;
    if (isPostgresUrl(url)) {
      const appDb = (current as KyselyStore).db;
      next = await openStore(
        { ...config, databaseUrl: url },
        {
          ...openOptions,
          prepare: async (local, outbox) => {
            const report = await carryToReplica(appDb, local, outbox, maskUrl(url), { final: true, precopied: true });
            log.info({ ...report, to: maskUrl(url) }, 'SQLite rows carried into the PostgreSQL replica');
          },
        },
      );
    } else {
      const file = sqlitePath(url);
      const appDb = await openLocal(file, log, true);
      try {
        await (current as ReplicatedStore).quiesce();
        const replica = openSqlite(replicaPath(config.dataDir)).db;
        try {
          const report = await carryToSqlite(replica, appDb, maskUrl(currentUrl));
          log.info({ ...report, file }, 'PostgreSQL replica rows carried into SQLite');
        } finally {
          await replica.destroy();
        }
      } catch (err) {
        await appDb.destroy();
        throw err;
      }
      next = new KyselyStore(appDb, 'sqlite', options.observe('sqlite'));
      // The previous store closes once its running reads end; its breaker goes now.
      options.breakers.remove('postgres');
    }
    currentUrl = url;
    return next;
  };
  return new SwitchableStore(initial, switchTo, log, { precopy, ...(onSwitched ? { onSwitched } : {}) });
}
