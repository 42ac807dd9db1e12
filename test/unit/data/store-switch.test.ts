import path from 'node:path';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { carryToReplica, carryToSqlite, clearStaleMark, readMark } from '../../../backend/data/carry-over.js';
import { newId } from '../../../backend/data/ids.js';
import { KyselyStore } from '../../../backend/data/kysely-store.js';
import { migrate } from '../../../backend/data/migrate.js';
import { LOCAL_MIGRATIONS_TABLE, localMigrations } from '../../../backend/data/migrations/local.js';
import { Outbox } from '../../../backend/data/outbox.js';
import { openSqlite } from '../../../backend/data/sqlite.js';
import { newMessage, type Conversation, type Store } from '../../../backend/data/store.js';
import { SwitchableStore } from '../../../backend/data/switchable-store.js';
import type { LocalDatabase } from '../../../backend/data/sync-schema.js';
import { tempDir } from '../../fixtures/test-server.js';

const silent = pino({ level: 'silent' });
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

/** A migrated SQLite file (with the replica's local tables) behind a store. */
async function file(name: string, dir = tempDir()): Promise<{ store: KyselyStore; local: Kysely<LocalDatabase>; outbox: Outbox }> {
  const { db } = openSqlite(path.join(dir, name));
  await migrate(db);
  await migrate(db, { migrations: localMigrations, table: LOCAL_MIGRATIONS_TABLE });
  const store = new KyselyStore(db, 'sqlite');
  open.push(store);
  const local = db as unknown as Kysely<LocalDatabase>;
  return { store, local, outbox: new Outbox(local) };
}

const at = '2026-01-01T00:00:00.000Z';
const conversation = (title: string): Conversation => ({ id: newId(), title, createdAt: at, updatedAt: at });

async function write(store: Store, title: string): Promise<string> {
  const c = conversation(title);
  await store.apply([
    { kind: 'conversation.upsert', row: c },
    { kind: 'message.upsert', row: newMessage({ id: newId(), conversationId: c.id, role: 'user', content: title, status: 'complete' }) },
  ]);
  return c.id;
}

const ids = async (store: Store): Promise<string[]> => (await store.listConversations({ limit: 100 })).items.map((c) => c.id).sort();

describe('carrying rows between app.db and the replica', () => {
  it('queues everything the first time, only what changed after, and carries deletes once both sides are paired', async () => {
    const dir = tempDir();
    const app = await file('app.db', dir);
    const replica = await file('replica.db', dir);
    const kept = await write(app.store, 'kept');
    const dropped = await write(app.store, 'dropped');
    await app.store.credentials.insertToken({ id: 't1', name: 'cli', scope: 'user', tokenHash: 'h1', createdAt: at, lastUsedAt: null });

    const first = await carryToReplica(app.store.db, replica.local, replica.outbox, 'postgres://a/db');
    expect(first).toMatchObject({ conversations: 2, messages: 2, deleted: 0, credentials: 1 });
    expect(await replica.outbox.count()).toBe(4);
    expect(await ids(replica.store)).toEqual([kept, dropped].sort());
    expect((await replica.store.credentials.listTokens()).map((t) => t.id)).toEqual(['t1']);

    // Back: nothing changed, nothing to copy; the marks pair the files.
    expect(await carryToSqlite(replica.store.db, app.store.db, 'postgres://a/db')).toMatchObject({ conversations: 0, messages: 0, deleted: 0 });
    expect((await readMark(app.store.db))?.id).toBe((await readMark(replica.store.db))?.id);

    // In SQLite mode: one new, one deleted. The next carry to the same server queues just those.
    const added = await write(app.store, 'added');
    await app.store.apply([{ kind: 'conversation.delete', id: dropped }]);
    const again = await carryToReplica(app.store.db, replica.local, replica.outbox, 'postgres://a/db');
    expect(again).toMatchObject({ conversations: 1, messages: 1, deleted: 1 });
    expect(await ids(replica.store)).toEqual([kept, added].sort());
    const queued = (await replica.outbox.read(100)).map((e) => e.mutation.kind);
    expect(queued.slice(4)).toEqual(['conversation.upsert', 'message.upsert', 'conversation.delete']);

    // A switch's first pass copies while writes go on and leaves the marks; the final pass then
    // queues only what changed in between (here: a rename, an update of an existing row).
    const marks = await readMark(app.store.db);
    await carryToSqlite(replica.store.db, app.store.db, 'postgres://a/db');
    const pairedMark = await readMark(app.store.db);
    expect(pairedMark?.id).not.toBe(marks?.id);
    await write(app.store, 'during the first pass');
    expect(await carryToReplica(app.store.db, replica.local, replica.outbox, 'postgres://a/db', { final: false })).toMatchObject({ conversations: 1 });
    expect(await readMark(app.store.db)).toEqual(pairedMark);
    const renamed = await app.store.getConversation(kept);
    await app.store.apply([{ kind: 'conversation.upsert', row: { ...(renamed as Conversation), title: 'renamed in between' } }]);
    expect(await carryToReplica(app.store.db, replica.local, replica.outbox, 'postgres://a/db', { final: true, precopied: true })).toMatchObject({ conversations: 1, messages: 0, deleted: 0 });
    expect((await replica.store.getConversation(kept))?.title).toBe('renamed in between');
    expect((await readMark(replica.store.db))?.live).toBe('postgres');

    // Repeating a carry changes nothing and duplicates nothing.
    await carryToSqlite(replica.store.db, app.store.db, 'postgres://a/db');
    expect(await carryToReplica(app.store.db, replica.local, replica.outbox, 'postgres://a/db')).toMatchObject({ conversations: 0, messages: 0, deleted: 0 });
    // Another server: everything is queued again, since it may have none of it.
    await carryToSqlite(replica.store.db, app.store.db, 'postgres://a/db');
    expect(await carryToReplica(app.store.db, replica.local, replica.outbox, 'postgres://b/db')).toMatchObject({ conversations: 3, messages: 3, deleted: 0 });
  });

  it('adds and updates only when the idle side was used behind the switch (a restart with the old URL)', async () => {
    const dir = tempDir();
    const app = await file('app.db', dir);
    const replica = await file('replica.db', dir);
    const mine = await write(app.store, 'from sqlite');
    await carryToReplica(app.store.db, replica.local, replica.outbox, 'postgres://a/db');
    // PostgreSQL mode: a row arrives in the replica (another instance's, pulled).
    const pulled = await write(replica.store, 'pulled');
    // Restart in SQLite mode with the old URL: app.db's mark names the other side, so it goes.
    await clearStaleMark(app.store.db, 'sqlite');
    expect(await readMark(app.store.db)).toBeUndefined();
    const local = await write(app.store, 'written after the restart');
    const report = await carryToReplica(app.store.db, replica.local, replica.outbox, 'postgres://a/db');
    expect(report.deleted).toBe(0);
    expect(await ids(replica.store)).toEqual([mine, pulled, local].sort());
    // A mark for the side that is live stays.
    await clearStaleMark(replica.store.db, 'postgres');
    expect(await readMark(replica.store.db)).toMatchObject({ live: 'postgres' });
  });
});

describe('SwitchableStore', () => {
  it('holds writes during a switch and lands them in the new store; a failed switch leaves the old one serving', async () => {
    const dir = tempDir();
    const a = await file('a.db', dir);
    const b = await file('b.db', dir);
    let release!: () => void;
    const opened = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const switching = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let fail = false;
    const store = new SwitchableStore(
      a.store,
      async (url) => {
        if (fail) throw new Error(`cannot open ${url}`);
        entered();
        await opened;
        return b.store;
      },
      silent,
    );
    const before = await write(store, 'before');
    const swap = store.reconfigure('sqlite:///b.db');
    await switching;
    // Reads go on against the old store; a write waits for the switch.
    expect(await ids(store)).toEqual([before]);
    let landed = false;
    const during = write(store, 'during').then((id) => {
      landed = true;
      return id;
    });
    const token = store.credentials.insertToken({ id: 't', name: 'n', scope: 'user', tokenHash: 'h', createdAt: at, lastUsedAt: null });
    await new Promise((r) => setImmediate(r));
    expect(landed).toBe(false);
    release();
    await swap;
    const id = await during;
    await token;
    expect(store.current).toBe(b.store);
    expect(await ids(b.store)).toEqual([id]);
    // The old store was closed once nothing ran on it any more.
    await expect(a.store.ping()).rejects.toThrow();
    open.splice(open.indexOf(a.store), 1);
    expect(await store.credentials.tokenByHash('h')).toMatchObject({ id: 't' });
    expect(store.sync).toBeUndefined();
    expect(store.health().backend).toBe('sqlite');
    await store.ping();

    fail = true;
    await expect(store.reconfigure('sqlite:///c.db')).rejects.toThrow(/cannot open/);
    expect(store.current).toBe(b.store);
    const after = await write(store, 'after a failed switch');
    expect(await ids(store)).toContain(after);
    open.splice(open.indexOf(b.store), 1);
    await store.close();
  });
});
