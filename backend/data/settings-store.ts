import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { migrate } from './migrate.js';
import type { Migration } from './migrations/index.js';
import { openSqlite } from './sqlite.js';

/**
 * Settings saved through the settings API, in their own SQLite file in DATA_DIR. Not in the
 * conversation database: DATABASE_URL is itself one of these settings, so it must be readable
 * before that database is chosen and opened, and it must stay where it is when the server moves
 * between SQLite (app.db) and PostgreSQL (replica.db). Settings belong to one instance (as its
 * DATA_DIR and its key file do), so they are never replicated.
 */
export const SETTINGS_MIGRATIONS_TABLE = 'schema_migrations_settings';

export const settingsMigrations: Migration[] = [
  {
    version: 1,
    name: 'settings',
    statements: [
      // `value` is JSON text, or for secret-bearing keys the ciphertext the settings service made.
      `CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        encrypted INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      )`,
    ],
  },
];

export const settingsDbPath = (dataDir: string): string => path.join(dataDir, 'settings.db');

export interface StoredSetting {
  key: string;
  value: string;
  encrypted: boolean;
  updatedAt: string;
}

export class SettingsStore {
  private constructor(
    private readonly db: Kysely<Database>,
    readonly file: string,
  ) {}

  static async open(dataDir: string): Promise<SettingsStore> {
    const file = settingsDbPath(dataDir);
    const { db } = openSqlite(file);
    try {
      await migrate(db, { migrations: settingsMigrations, table: SETTINGS_MIGRATIONS_TABLE });
    } catch (err) {
      await db.destroy();
      throw err;
    }
    return new SettingsStore(db, file);
  }

  async all(): Promise<StoredSetting[]> {
    const rows = await this.db.selectFrom('settings').select(['key', 'value', 'encrypted', 'updated_at']).orderBy('key').execute();
    return rows.map((r) => ({ key: r.key, value: r.value, encrypted: Number(r.encrypted) === 1, updatedAt: r.updated_at }));
  }

  /** Writes and removes in one transaction: a PATCH is stored whole or not at all. */
  async save(puts: Array<{ key: string; value: string; encrypted: boolean }>, removals: string[]): Promise<void> {
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      for (const key of removals) await trx.deleteFrom('settings').where('key', '=', key).execute();
      for (const p of puts) {
        const row = { key: p.key, value: p.value, encrypted: p.encrypted ? 1 : 0, updated_at: now };
        await trx
          .insertInto('settings')
          .values(row)
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: row.value, encrypted: row.encrypted, updated_at: now }))
          .execute();
      }
    });
  }

  close(): Promise<void> {
    return this.db.destroy();
  }
}
