import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';
import { makePrivateDir, makePrivateFile, restrictIfPresent } from '../private-files.js';
import { BackgroundCheckpoints, type BackgroundCheckpointOptions } from './checkpoints.js';
import type { SearchIndexer } from './search-index.js';

/** Turns `sqlite:///abs/path.db` (or `sqlite://relative.db`, or `sqlite::memory:`) into a path. */
export function sqlitePath(url: string, cwd = process.cwd()): string {
  if (url === 'sqlite::memory:' || url === 'sqlite://:memory:') return ':memory:';
  const rest = url.replace(/^sqlite:\/\//, '');
  return path.resolve(cwd, decodeURIComponent(rest));
}

export interface OpenedSqlite {
  db: Kysely<Database>;
  raw: Sqlite.Database;
  file: string;
  /** Present when the WAL is checkpointed on a worker thread (see checkpoints.ts). */
  checkpoints: BackgroundCheckpoints | undefined;
}

export interface OpenSqliteOptions {
  /**
   * Checkpoint the WAL on a worker thread instead of inside the commits of this connection. For
   * the long-lived databases the server writes to all the time (app.db, the replica).
   */
  backgroundCheckpoints?: boolean | BackgroundCheckpointOptions;
  /** Told if the checkpoint worker fails (the connection then checkpoints by itself again). */
  onCheckpointFailure?: (err: Error) => void;
  /** Told of every writing statement, and stopped when the connection closes (search-index.ts). */
  searchIndex?: SearchIndexer;
}

/**
 * Opens the local database with WAL, a busy timeout and foreign keys on. The file is 0600 before
 * SQLite opens it; SQLite gives the -wal and -shm files it creates the database file's mode, and
 * ones left by an older version are tightened here.
 */
export function openSqlite(file: string, options: OpenSqliteOptions = {}): OpenedSqlite {
  if (file !== ':memory:') {
    makePrivateDir(path.dirname(file));
    makePrivateFile(file);
  }
  const raw = new Sqlite(file);
  raw.pragma('journal_mode = WAL');
  if (file !== ':memory:') {
    restrictIfPresent(`${file}-wal`);
    restrictIfPresent(`${file}-shm`);
  }
  raw.pragma('busy_timeout = 5000');
  raw.pragma('foreign_keys = ON');
  // NORMAL is durable across process crashes in WAL mode; only a power loss can drop the last commit.
  raw.pragma('synchronous = NORMAL');
  const background = options.backgroundCheckpoints;
  const checkpoints =
    background !== undefined && background !== false && file !== ':memory:'
      ? new BackgroundCheckpoints(raw, file, {
          ...(background === true ? {} : background),
          ...(options.onCheckpointFailure ? { onFailure: options.onCheckpointFailure } : {}),
        })
      : undefined;
  const db = kyselyOverSqlite(raw, withStatementCache(raw, STATEMENT_CACHE_SIZE, checkpoints, options.searchIndex));
  return { db, raw, file, checkpoints };
}

/** Prepares statements (kept, see withStatementCache) and closes the connection. */
export interface StatementCache {
  prepare(sql: string): Sqlite.Statement;
  close(): void;
}

/**
 * Kysely over a connection's statement cache. The connection is also registered for
 * sqliteConnectionOf, so the store's group commit can run its statements on the same cache.
 */
export function kyselyOverSqlite(raw: Sqlite.Database, statements: StatementCache): Kysely<Database> {
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) });
  connections.set(db, {
    prepare: (sql) => statements.prepare(sql),
    get inTransaction() {
      return raw.inTransaction;
    },
  });
  return db;
}

/**
 * The connection under a Kysely instance openSqlite made, for code that runs many small statements
 * in a row and is better off without a promise per statement (the store's group commit). Its
 * statements are the ones Kysely would have prepared, through the same cache, so the checkpoint
 * and search hooks see them as well. Run them only while holding Kysely's connection
 * (`db.connection().execute`), so that no Kysely query interleaves.
 */
export interface SqliteConnection {
  prepare(sql: string): Sqlite.Statement;
  readonly inTransaction: boolean;
}

const connections = new WeakMap<Kysely<Database>, SqliteConnection>();

/** The connection of a Kysely instance openSqlite made, or undefined for any other. */
export function sqliteConnectionOf(db: Kysely<Database>): SqliteConnection | undefined {
  return connections.get(db);
}

/** Distinct statements kept prepared; past it the cache starts over (search builds many shapes). */
export const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely's SQLite driver prepares every statement it runs. Preparing (parsing and planning the SQL)
 * cost more than running the small inserts of a chat turn, and the app runs the same few
 * statements over and over, so each one is prepared once and kept. Reusing a statement is safe:
 * Kysely runs one statement at a time on the single connection, and SQLite re-prepares a kept
 * statement by itself when a migration changes the schema under it.
 */
export function withStatementCache(
  raw: Sqlite.Database,
  size = STATEMENT_CACHE_SIZE,
  checkpoints?: BackgroundCheckpoints,
  searchIndex?: SearchIndexer,
): StatementCache {
  const prepared = new Map<string, Sqlite.Statement>();
  return {
    prepare(sql: string): Sqlite.Statement {
      let statement = prepared.get(sql);
      if (statement === undefined) {
        statement = raw.prepare(sql);
        if (prepared.size >= size) prepared.clear();
        prepared.set(sql, statement);
      }
      // Kysely prepares each statement right before running it: one that writes (or commits)
      // gives the checkpoint worker something to do, and may have queued rows to index.
      if (!statement.reader) {
        checkpoints?.wrote();
        searchIndex?.wrote();
      }
      return statement;
    },
    close(): void {
      prepared.clear();
      searchIndex?.stop();
      checkpoints?.close();
      raw.close();
    },
  };
}
