/**
 * The outbox of the local replica, on a real SQLite file with the replica's migrations: what an
 * append records, the order rows leave in, what an acknowledgement removes, the dead-letter table,
 * and the questions reads ask it (which ids and conversations have writes waiting).
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { newId } from '../../../backend/data/ids.js';
import { migrate } from '../../../backend/data/migrate.js';
import { LOCAL_MIGRATIONS_TABLE, localMigrations } from '../../../backend/data/migrations/local.js';
import { ID_CHUNK, Outbox, chunks } from '../../../backend/data/outbox.js';
import { openSqlite } from '../../../backend/data/sqlite.js';
import { newMessage, type Conversation, type Mutation, type ValidationRecord } from '../../../backend/data/store.js';
import type { LocalDatabase } from '../../../backend/data/sync-schema.js';
import { tempDir } from '../../fixtures/test-server.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function replica(): Promise<{ db: Kysely<LocalDatabase>; outbox: Outbox }> {
  const dir = tempDir();
  const { db } = openSqlite(path.join(dir, 'replica.db'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => db.destroy());
  await migrate(db);
  await migrate(db, { migrations: localMigrations, table: LOCAL_MIGRATIONS_TABLE });
  const local = db as unknown as Kysely<LocalDatabase>;
  return { db: local, outbox: new Outbox(local) };
}

const at = '2026-01-01T00:00:00.000Z';
const conversation = (): Conversation => ({ id: newId(), title: 't', createdAt: at, updatedAt: at });
const upsertConversation = (c: Conversation): Mutation => ({ kind: 'conversation.upsert', row: c });
const upsertMessage = (conversationId: string, id = newId()): Mutation => ({
  kind: 'message.upsert',
  row: newMessage({ id, conversationId, role: 'user', content: 'hi', status: 'complete', createdAt: at }),
});
const validation = (): Mutation => {
  const row: ValidationRecord = { id: newId(), messageId: null, source: 'api', verdict: 'pass', errors: 0, warnings: 0, notes: 0, configHash: 'h', durationMs: 1, findings: [], createdAt: at };
  return { kind: 'validation.insert', row };
};

async function append(db: Kysely<LocalDatabase>, outbox: Outbox, mutations: Mutation[], now?: number): Promise<void> {
  await db.transaction().execute((trx) => outbox.append(trx, mutations, now));
}

describe('chunks', () => {
  it('splits into pieces of at most the size, in order, the last one shorter', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([1, 2, 3, 4], 2)).toEqual([[1, 2], [3, 4]]);
    expect(chunks([], 3)).toEqual([]);
    expect(ID_CHUNK).toBe(500);
  });
});

describe('Outbox', () => {
  it('records each mutation with its entity, conversation and time, in commit order', async () => {
    const { db, outbox } = await replica();
    const c = conversation();
    const m = upsertMessage(c.id);
    const v = validation();
    await append(db, outbox, [upsertConversation(c), m, v, { kind: 'conversation.delete', id: c.id }], 1234);
    const rows = await db.selectFrom('outbox').selectAll().orderBy('seq').execute();
    expect(rows.map((r) => [r.kind, r.entity_id, r.conversation_id, Number(r.created_at)])).toEqual([
      ['conversation.upsert', c.id, c.id, 1234],
      ['message.upsert', m.kind === 'message.upsert' ? m.row.id : '', c.id, 1234],
      ['validation.insert', v.kind === 'validation.insert' ? v.row.id : '', null, 1234],
      ['conversation.delete', c.id, c.id, 1234],
    ]);
    const entries = await outbox.read(10);
    expect(entries.map((e) => e.mutation)).toEqual([upsertConversation(c), m, v, { kind: 'conversation.delete', id: c.id }]);
    expect(entries.every((e) => e.createdAt === 1234)).toBe(true);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(await outbox.count()).toBe(4);
    expect(await outbox.oldestCreatedAt()).toBe(1234);
  });

  it('stamps the current time by default, and appends nothing for no mutations', async () => {
    const { db, outbox } = await replica();
    await append(db, outbox, []);
    expect(await outbox.count()).toBe(0);
    expect(await outbox.oldestCreatedAt()).toBeNull();
    const before = Date.now();
    await append(db, outbox, [upsertConversation(conversation())]);
    const oldest = (await outbox.oldestCreatedAt()) as number;
    expect(oldest).toBeGreaterThanOrEqual(before);
    expect(oldest).toBeLessThanOrEqual(Date.now());
  });

  it('appends large batches in full (several inserts) and reads them back in order, limited', async () => {
    const { db, outbox } = await replica();
    const c = conversation();
    const many = Array.from({ length: 250 }, () => upsertMessage(c.id));
    await append(db, outbox, many, 1);
    expect(await outbox.count()).toBe(250);
    const first = await outbox.read(100);
    expect(first).toHaveLength(100);
    expect(first.map((e) => e.mutation)).toEqual(many.slice(0, 100));
    expect((await outbox.read(1000)).map((e) => e.seq)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
  });

  it('the oldest waiting write is the first one committed', async () => {
    const { db, outbox } = await replica();
    await append(db, outbox, [upsertConversation(conversation())], 500);
    await append(db, outbox, [upsertConversation(conversation())], 100); // a clock that went back
    expect(await outbox.oldestCreatedAt()).toBe(500);
    await outbox.ack(1);
    expect(await outbox.oldestCreatedAt()).toBe(100);
  });

  it('an acknowledgement removes everything up to and including its seq', async () => {
    const { db, outbox } = await replica();
    await append(db, outbox, Array.from({ length: 5 }, () => upsertConversation(conversation())));
    expect(await outbox.ack(3)).toBe(3);
    expect((await outbox.read(10)).map((e) => e.seq)).toEqual([4, 5]);
    expect(await outbox.ack(3)).toBe(0);
    expect(await outbox.ack(5)).toBe(2);
    expect(await outbox.count()).toBe(0);
  });

  it('buries a refused write in outbox_dead with the error, once, and leaves the rest', async () => {
    const { db, outbox } = await replica();
    await append(db, outbox, [upsertConversation(conversation()), upsertConversation(conversation())], 42);
    const [first] = await outbox.read(1);
    if (!first) throw new Error('no entry');
    const buried = Date.now();
    expect(await outbox.bury(first, 'value too long')).toBe(true);
    expect(await outbox.deadCount()).toBe(1);
    expect((await outbox.read(10)).map((e) => e.seq)).toEqual([2]);
    const dead = await db.selectFrom('outbox_dead').selectAll().execute();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ seq: 1, kind: 'conversation.upsert', error: 'value too long', created_at: 42 });
    // Stamped when it was buried, however long that took.
    expect(Date.parse(dead[0]?.failed_at ?? '')).toBeGreaterThanOrEqual(buried);
    expect(Date.parse(dead[0]?.failed_at ?? '')).toBeLessThanOrEqual(Date.now());
    expect(JSON.parse(dead[0]?.payload ?? '{}')).toEqual(first.mutation);
    // Burying it again (a replay) changes nothing, and says so.
    expect(await outbox.bury(first, 'again')).toBe(false);
    expect(await outbox.deadCount()).toBe(1);
    expect(await outbox.count()).toBe(1);
  });

  it('knows which entity ids have writes waiting, across chunks and with duplicates', async () => {
    const { db, outbox } = await replica();
    const c = conversation();
    const m = upsertMessage(c.id);
    await append(db, outbox, [upsertConversation(c), m, m]);
    const messageId = m.kind === 'message.upsert' ? m.row.id : '';
    const others = Array.from({ length: ID_CHUNK + 10 }, () => newId());
    const asked = [...others.slice(0, ID_CHUNK), messageId, ...others.slice(ID_CHUNK), c.id, c.id];
    const pending = await db.transaction().execute((trx) => outbox.pendingIds(trx, asked));
    expect([...pending].sort()).toEqual([c.id, messageId].sort());
    expect(await db.transaction().execute((trx) => outbox.pendingIds(trx, []))).toEqual(new Set());
  });

  it('tells a read what one conversation has waiting', async () => {
    const { db, outbox } = await replica();
    const c = conversation();
    const quiet = conversation();
    const m1 = upsertMessage(c.id);
    const m2 = upsertMessage(c.id);
    expect(await outbox.pendingFor(c.id)).toEqual({ any: false, conversation: false, deleted: false, messageIds: new Set() });
    await append(db, outbox, [m1, m2]);
    expect(await outbox.pendingFor(c.id)).toEqual({
      any: true,
      conversation: false,
      deleted: false,
      messageIds: new Set([m1, m2].map((m) => (m.kind === 'message.upsert' ? m.row.id : ''))),
    });
    await append(db, outbox, [upsertConversation(c)]);
    expect(await outbox.pendingFor(c.id)).toMatchObject({ conversation: true, deleted: false });
    await append(db, outbox, [{ kind: 'conversation.delete', id: c.id }, validation()]);
    expect(await outbox.pendingFor(c.id)).toMatchObject({ any: true, conversation: true, deleted: true });
    expect((await outbox.pendingFor(c.id)).messageIds.size).toBe(2);
    expect(await outbox.pendingFor(quiet.id)).toEqual({ any: false, conversation: false, deleted: false, messageIds: new Set() });
  });

  it('lists conversations with writes waiting, once each, up to the limit plus one', async () => {
    const { db, outbox } = await replica();
    const cs = Array.from({ length: 4 }, () => conversation());
    await append(db, outbox, [validation(), ...cs.flatMap((c) => [upsertConversation(c), upsertMessage(c.id)])]);
    expect((await outbox.dirtyConversations(10)).sort()).toEqual(cs.map((c) => c.id).sort());
    expect(await outbox.dirtyConversations(2)).toHaveLength(3);
    expect(await outbox.dirtyConversations(0)).toHaveLength(1);
  });
});
