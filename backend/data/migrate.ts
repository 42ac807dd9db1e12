import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import { migrations as defaultMigrations, type Migration } from './migrations/index.js';

export class MigrationError extends Error {
  readonly code = 'migration-refused';
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

export const checksumOf = (m: Migration): string =>
  createHash('sha256').update(`${m.version}\n${m.name}\n${m.statements.join(';\n')}`).digest('hex');

export interface MigrateOptions {
  migrations?: Migration[];
  /**
   * Runs inside every migration transaction (and the one creating the bookkeeping table) before
   * anything else: PostgreSQL takes an advisory lock so that two instances starting at once
   * migrate one after the other.
   */
  lock?: (trx: Kysely<Database>) => Promise<void>;
  /** The bookkeeping table; the local replica's own set uses a second one. */
  table?: string;
}

/**
 * Applies pending migrations in order, each in its own transaction, after checking that every
 * applied one still has the checksum it was applied with.
 */
export async function migrate(db: Kysely<Database>, options: MigrateOptions = {}): Promise<number[]> {
  const list = [...(options.migrations ?? defaultMigrations)].sort((a, b) => a.version - b.version);
  const tableName = options.table ?? 'schema_migrations';
  if (!/^[a-z_]+$/.test(tableName)) throw new MigrationError(`invalid migrations table name ${tableName}`);
  // The Kysely types know one bookkeeping table; the other has the same shape.
  const table = tableName as 'schema_migrations';
  // Under the lock too: two PostgreSQL sessions racing on CREATE TABLE IF NOT EXISTS can both
  // try to create it and one fails on the catalog's unique index.
  await db.transaction().execute(async (trx) => {
    if (options.lock) await options.lock(trx);
    await sql`CREATE TABLE IF NOT EXISTS ${sql.table(tableName)} (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      checksum TEXT NOT NULL,
      applied_at TEXT NOT NULL
    )`.execute(trx);
  });

  const appliedNow: number[] = [];
  for (const migration of list) {
    const done = await db.transaction().execute(async (trx) => {
      if (options.lock) await options.lock(trx);
      const row = await trx
        .selectFrom(table)
        .select(['version', 'name', 'checksum'])
        .where('version', '=', migration.version)
        .executeTakeFirst();
      const checksum = checksumOf(migration);
      if (row) {
        if (row.checksum !== checksum) {
          throw new MigrationError(
            `migration ${migration.version} (${row.name}) was changed after it was applied; restore it and add a new migration instead`,
          );
        }
        return false;
      }
      for (const statement of migration.statements) await sql.raw(statement).execute(trx);
      await trx
        .insertInto(table)
        .values({ version: migration.version, name: migration.name, checksum, applied_at: new Date().toISOString() })
        .execute();
      return true;
    });
    if (done) appliedNow.push(migration.version);
  }
  const known = new Set(list.map((m) => m.version));
  const rows = await db.selectFrom(table).select(['version', 'name']).execute();
  const unknown = rows.filter((r) => !known.has(Number(r.version)));
  if (unknown.length > 0) {
    throw new MigrationError(
      `the database has migration ${unknown.map((r) => `${r.version} (${r.name})`).join(', ')} that this version does not know; it was written by a newer Orchestra`,
    );
  }
  return appliedNow;
}
