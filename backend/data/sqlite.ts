import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';
import { makePrivateDir, makePrivateFile, restrictIfPresent } from '../private-files.js';

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
}

/**
 * Opens the local database with WAL, a busy timeout and foreign keys on. The file is 0600 before
 * SQLite opens it; SQLite gives the -wal and -shm files it creates the database file's mode, and
 * ones left by an older version are tightened here.
 */
export function openSqlite(file: string): OpenedSqlite {
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
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  return { db, raw, file };
}
