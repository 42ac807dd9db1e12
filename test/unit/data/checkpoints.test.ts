import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import Sqlite from 'better-sqlite3';
import { BackgroundCheckpoints, START_AFTER_WRITES, WRITER_CHECKPOINT_PAGES, type CheckpointResult } from '../../../backend/data/checkpoints.js';
import { newId } from '../../../backend/data/ids.js';
import { KyselyStore } from '../../../backend/data/kysely-store.js';
import { migrate } from '../../../backend/data/migrate.js';
import { openSqlite } from '../../../backend/data/sqlite.js';
import { tempDir } from '../../fixtures/test-server.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

describe('WAL checkpoints on a worker thread', () => {
  it('checkpoints from a worker once there were enough writes, leaves the writer a larger WAL, and closes to the database file alone', async () => {
    const file = path.join(tempDir(), 'app.db');
    const { db, raw, checkpoints } = openSqlite(file, { backgroundCheckpoints: { checkpointEveryWrites: 10 } });
    const store = new KyselyStore(db, 'sqlite');
    open.push(store);
    expect(checkpoints).toBeDefined();
    if (!checkpoints) return;
    const seen: CheckpointResult[] = [];
    let wake = (): void => {};
    checkpoints.onCheckpoint((result) => {
      seen.push(result);
      wake();
    });
    const write = (title: string): Promise<void> => {
      const at = new Date().toISOString();
      return store.apply([{ kind: 'conversation.upsert', row: { id: newId(), title, createdAt: at, updatedAt: at } }]);
    };

    // A few writes (start-up, a desktop app now and then) leave checkpoints to SQLite, no thread.
    await migrate(db);
    expect(checkpoints.active).toBe(false);
    expect(raw.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    // Each write is three writing statements: begin, the upsert, commit.
    for (let i = 0; i < START_AFTER_WRITES / 3; i++) await write('early');
    expect(checkpoints.active).toBe(true);
    expect(raw.pragma('wal_autocheckpoint', { simple: true })).toBe(WRITER_CHECKPOINT_PAGES);

    for (let i = 0; i < 20; i++) await write('kept');
    while (seen.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    expect(seen[0]?.log).toBeGreaterThan(0);
    expect(seen[0]?.checkpointed).toBeGreaterThan(0);

    // The worker's connection closes first, so the writer's close (the last one) checkpoints the
    // rest and removes the WAL.
    open.splice(open.indexOf(store), 1);
    await store.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(existsSync(`${file}-shm`)).toBe(false);
    const reader = new Sqlite(file);
    try {
      const count = (title: string): number => (reader.prepare('SELECT count(*) AS n FROM conversations WHERE title = ?').get(title) as { n: number }).n;
      expect(count('kept')).toBe(20);
      expect(count('early')).toBe(Math.ceil(START_AFTER_WRITES / 3));
    } finally {
      reader.close();
    }
  });

  it('gives the writing connection its own checkpoints back when the worker cannot run', async () => {
    const file = path.join(tempDir(), 'app.db');
    const raw = new Sqlite(file);
    raw.pragma('journal_mode = WAL');
    const failed = new Promise<Error>((resolve) => {
      const checkpoints = new BackgroundCheckpoints(raw, file, { driver: path.join(tempDir(), 'no-such-driver.js'), startAfterWrites: 1, onFailure: resolve });
      checkpoints.wrote();
      expect(raw.pragma('wal_autocheckpoint', { simple: true })).toBe(WRITER_CHECKPOINT_PAGES);
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
