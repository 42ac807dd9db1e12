import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import Sqlite from 'better-sqlite3';
import { BackgroundCheckpoints, WRITER_CHECKPOINT_PAGES, type CheckpointResult } from '../../../backend/data/checkpoints.js';
import { newId } from '../../../backend/data/ids.js';
import { KyselyStore } from '../../../backend/data/kysely-store.js';
import { migrate } from '../../../backend/data/migrate.js';
import { openSqlite } from '../../../backend/data/sqlite.js';
import { tempDir } from '../../fixtures/test-server.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

const nextCheckpoint = (checkpoints: BackgroundCheckpoints): Promise<CheckpointResult> =>
  new Promise((resolve) => {
    const off = checkpoints.onCheckpoint((result) => {
      off();
      resolve(result);
    });
  });

describe('WAL checkpoints on a worker thread', () => {
  it('copies committed writes into the database file from the worker; the writer checkpoints only past a larger WAL', async () => {
    const file = path.join(tempDir(), 'app.db');
    const { db, raw, checkpoints } = openSqlite(file, { backgroundCheckpoints: true });
    const store = new KyselyStore(db, 'sqlite');
    open.push(store);
    expect(checkpoints).toBeDefined();
    if (!checkpoints) return;
    expect(raw.pragma('wal_autocheckpoint', { simple: true })).toBe(WRITER_CHECKPOINT_PAGES);

    await migrate(db);
    const at = new Date().toISOString();
    const ids = Array.from({ length: 50 }, () => newId());
    const checkpointed = nextCheckpoint(checkpoints);
    await store.apply(ids.map((id) => ({ kind: 'conversation.upsert' as const, row: { id, title: 'kept', createdAt: at, updatedAt: at } })));
    const result = await checkpointed;
    // Nothing wrote meanwhile, so the worker caught up with the whole WAL.
    expect(result.log).toBeGreaterThan(0);
    expect(result.checkpointed).toBe(result.log);
    expect(checkpoints.active).toBe(true);

    // The rows are in the database file itself: a copy of the file without the WAL holds them.
    const copy = path.join(tempDir(), 'copy.db');
    copyFileSync(file, copy);
    const reader = new Sqlite(copy);
    try {
      expect((reader.prepare('SELECT count(*) AS n FROM conversations').get() as { n: number }).n).toBe(50);
    } finally {
      reader.close();
    }
  });

  it('gives the writing connection its own checkpoints back when the worker cannot run', async () => {
    const file = path.join(tempDir(), 'app.db');
    const raw = new Sqlite(file);
    raw.pragma('journal_mode = WAL');
    const failed = new Promise<Error>((resolve) => {
      const checkpoints = new BackgroundCheckpoints(raw, file, { driver: path.join(tempDir(), 'no-such-driver.js'), onFailure: resolve });
      expect(raw.pragma('wal_autocheckpoint', { simple: true })).toBe(WRITER_CHECKPOINT_PAGES);
      checkpoints.wrote();
    });
    open.push({ close: () => Promise.resolve(raw.close()).then(() => undefined) });
    expect((await failed).message).toMatch(/no-such-driver/);
    expect(raw.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });

  it('leaves ordinary connections (and in-memory databases) to SQLite', () => {
    const plain = openSqlite(path.join(tempDir(), 'app.db'));
    const memory = openSqlite(':memory:', { backgroundCheckpoints: true });
    open.push({ close: () => plain.db.destroy() }, { close: () => memory.db.destroy() });
    expect(plain.checkpoints).toBeUndefined();
    expect(memory.checkpoints).toBeUndefined();
    expect(plain.raw.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });
});
