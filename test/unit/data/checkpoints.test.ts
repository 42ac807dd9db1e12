import { copyFileSync } from 'node:fs';
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
  it('copies committed writes into the database file from the worker, once there were enough of them; the writer then checkpoints only past a larger WAL', async () => {
    const file = path.join(tempDir(), 'app.db');
    // Checkpoints after every writing statement, so that the last write is checkpointed too.
    const { db, raw, checkpoints } = openSqlite(file, { backgroundCheckpoints: { startAfterWrites: START_AFTER_WRITES, checkpointEveryWrites: 1 } });
    const store = new KyselyStore(db, 'sqlite');
    open.push(store);
    expect(checkpoints).toBeDefined();
    if (!checkpoints) return;

    // A few writes (start-up, a desktop app now and then) leave checkpoints to SQLite, no thread.
    await migrate(db);
    expect(checkpoints.active).toBe(false);
    expect(raw.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    const before = new Date().toISOString();
    for (let i = 0; i < START_AFTER_WRITES; i++) await store.apply([{ kind: 'conversation.upsert', row: { id: newId(), title: 'early', createdAt: before, updatedAt: before } }]);
    expect(checkpoints.active).toBe(true);
    expect(raw.pragma('wal_autocheckpoint', { simple: true })).toBe(WRITER_CHECKPOINT_PAGES);

    // Every checkpoint the worker makes from here on; a test waits for the next with `checkpoint()`.
    const seen: CheckpointResult[] = [];
    let wake = (): void => {};
    checkpoints.onCheckpoint((result) => {
      seen.push(result);
      wake();
    });
    const checkpoint = (): Promise<void> => new Promise((resolve) => (wake = resolve));
    // How many of the rows the database file itself holds: a copy of it without the WAL.
    const keptInFile = (): number => {
      const copy = path.join(tempDir(), 'copy.db');
      copyFileSync(file, copy);
      const reader = new Sqlite(copy);
      try {
        return (reader.prepare("SELECT count(*) AS n FROM conversations WHERE title = 'kept'").get() as { n: number }).n;
      } finally {
        reader.close();
      }
    };

    const at = new Date().toISOString();
    const ids = Array.from({ length: 50 }, () => newId());
    await store.apply(ids.map((id) => ({ kind: 'conversation.upsert' as const, row: { id, title: 'kept', createdAt: at, updatedAt: at } })));
    // Checkpoints of the earlier writes may still come first; one after this write copies it.
    while (keptInFile() < 50) await checkpoint();
    expect(keptInFile()).toBe(50);
    const last = seen[seen.length - 1];
    // Nothing wrote after it, so that checkpoint caught up with the whole WAL.
    expect(last?.log).toBeGreaterThan(0);
    expect(last?.checkpointed).toBe(last?.log);
    expect(checkpoints.active).toBe(true);
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
