/**
 * The replicator's passes, one at a time, between a real SQLite replica and a real PostgreSQL:
 * what a push sends and acknowledges, what it reports, how a refused row is set aside, how a
 * failure is retried and how the breaker gates it, how pulls skip this replica's own pushes and
 * never starve behind a stream of writes. Uses the run's shared private PostgreSQL when there is
 * one (mutation testing), else starts its own.
 */
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { Breaker, BreakerOpenError } from '../../../backend/breaker/breaker.js';
import { newId } from '../../../backend/data/ids.js';
import { messageRow } from '../../../backend/data/kysely-store.js';
import { migrate } from '../../../backend/data/migrate.js';
import { LOCAL_MIGRATIONS_TABLE, localMigrations } from '../../../backend/data/migrations/local.js';
import { Outbox } from '../../../backend/data/outbox.js';
import { isPostgresFailure, openPostgres, preparePostgres, type PostgresTarget } from '../../../backend/data/postgres.js';
import { pushBatch } from '../../../backend/data/remote-sync.js';
import { Replicator, type RemoteEndpoint, type ReplicatorOptions } from '../../../backend/data/replicator.js';
import { openSqlite } from '../../../backend/data/sqlite.js';
import { newMessage, type Conversation, type Mutation, type ValidationRecord } from '../../../backend/data/store.js';
import type { LocalDatabase, RemoteDatabase } from '../../../backend/data/sync-schema.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { silent, tempDir, waitFor } from './helpers.js';

let own: PrivatePostgres | undefined;
let remote: PostgresTarget;

// One database for the file, emptied before each test: creating and migrating one per test would
// cost most of the time of a test, and mutation testing runs these tests once per mutant.
beforeAll(async () => {
  const shared = inject('privatePostgres');
  let urlOf: (database: string) => string;
  let superUrl: string;
  if (shared !== undefined) {
    urlOf = (database) => shared.url.replace('/DATABASE', `/${database}`);
    superUrl = shared.superUrl;
  } else {
    own = await startPostgres();
    const server = own;
    urlOf = (database) => server.url(database);
    superUrl = server.superUrl('postgres');
  }
  const name = `passes_${process.pid}_${Date.now()}`;
  const client = new pg.Client({ connectionString: superUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name} OWNER orchestra`);
  } finally {
    await client.end();
  }
  remote = openPostgres({ url: urlOf(name), connectTimeoutMs: 3000, queryTimeoutMs: 5000, logger: silent });
  await preparePostgres(remote.db);
});

afterAll(async () => {
  await remote?.close();
  await own?.stop();
});

const cleanups: Array<() => Promise<void> | void> = [];
beforeEach(async () => {
  await sql`TRUNCATE conversations, messages, validations, sync_tombstones`.execute(remote.db);
  await sql`UPDATE sync_clock SET seq = 0 WHERE id = 1`.execute(remote.db);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const at = (i: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
const conversation = (title = 't', i = 0): Conversation => ({ id: newId(), title, createdAt: at(i), updatedAt: at(i) });
const message = (conversationId: string, content = 'hi') => newMessage({ id: newId(), conversationId, role: 'user', content, status: 'complete', createdAt: at(0) });
const validation = (): ValidationRecord => ({ id: newId(), messageId: null, source: 'api', verdict: 'pass', errors: 0, warnings: 0, notes: 0, configHash: 'h', durationMs: 1, findings: [], createdAt: at(0) });

interface Rig {
  replicator: Replicator;
  local: Kysely<LocalDatabase>;
  outbox: Outbox;
  breaker: Breaker;
  remote: PostgresTarget;
  remoteDb: Kysely<RemoteDatabase>;
  endpoint: { down: Error | undefined; id: string };
  shrunk: number[];
  replicated: string[][];
  observed: string[];
  logs: Array<{ level: string; msg: string; [k: string]: unknown }>;
  write(mutations: Mutation[]): Promise<void>;
}

async function rig(options: Partial<ReplicatorOptions> = {}, breakerOptions: { threshold?: number; resetTimeoutMs?: number } = {}): Promise<Rig> {
  const t = tempDir('orchestra-passes-');
  cleanups.push(t.remove);
  const { db } = openSqlite(path.join(t.dir, 'replica.db'));
  cleanups.push(() => db.destroy());
  await migrate(db);
  await migrate(db, { migrations: localMigrations, table: LOCAL_MIGRATIONS_TABLE });
  const local = db as unknown as Kysely<LocalDatabase>;
  const outbox = new Outbox(local);
  const breaker = new Breaker('postgres', { threshold: breakerOptions.threshold ?? 3, resetTimeoutMs: breakerOptions.resetTimeoutMs ?? 60_000, timeoutMs: 10_000, isFailure: isPostgresFailure });
  cleanups.push(() => breaker.shutdown());
  const endpoint: Rig['endpoint'] = { down: undefined, id: 'db-a' };
  const remoteDb = remote.db as unknown as Kysely<RemoteDatabase>;
  const logs: Rig['logs'] = [];
  const logger = silent.child({});
  // A logger that records what the replicator says, at every level.
  const record = (level: string) => (obj: object, msg: string) => logs.push({ level, msg, ...obj });
  const childLogger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
  const fakeParent = Object.assign(Object.create(logger) as typeof logger, { child: () => childLogger });
  const shrunk: number[] = [];
  const replicated: string[][] = [];
  const observed: string[] = [];
  const endpointOf = (): RemoteEndpoint => ({
    db: remoteDb,
    withClient: (fn) => remote.withClient(fn),
    ready: () => (endpoint.down ? Promise.reject(endpoint.down) : Promise.resolve(endpoint.id)),
  });
  const replicator = new Replicator({
    local,
    outbox,
    breaker,
    remote: endpointOf,
    logger: fakeParent,
    observe: (operation, seconds) => {
      expect(seconds).toBeGreaterThanOrEqual(0);
      observed.push(operation);
    },
    pullIntervalMs: 3_600_000,
    retryDelayMs: 20,
    onOutboxShrunk: (n) => shrunk.push(n),
    onReplicated: (ids) => replicated.push([...ids].sort()),
    ...options,
  });
  cleanups.push(() => replicator.close());
  const write = async (mutations: Mutation[]): Promise<void> => {
    await local.transaction().execute((trx) => outbox.append(trx, mutations));
  };
  return { replicator, local, outbox, breaker, remote, remoteDb, endpoint, shrunk, replicated, observed, logs, write };
}

async function settle(r: Rig): Promise<void> {
  await r.replicator.idle();
}

const remoteTitles = async (r: Rig): Promise<string[]> => (await r.remoteDb.selectFrom('conversations').select('title').orderBy('title').execute()).map((x) => x.title);

describe('pushing', () => {
  it('pushes the outbox in order, acknowledges it and reports what it did', async () => {
    const r = await rig({ batchSize: 2 });
    await settle(r); // the first pass: nothing to push, a pull of an empty database
    r.observed.length = 0;
    const c = conversation('first');
    const m = message(c.id);
    const gone = conversation('gone');
    const wrote = Date.now();
    await r.write([{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: m }]);
    await r.write([{ kind: 'conversation.upsert', row: gone }, { kind: 'conversation.delete', id: gone.id }]);
    await r.write([{ kind: 'validation.insert', row: validation() }]);
    r.replicator.kick();
    await settle(r);
    expect(await r.outbox.count()).toBe(0);
    expect(await remoteTitles(r)).toEqual(['first']);
    expect(await r.remoteDb.selectFrom('messages').select('id').execute()).toEqual([{ id: m.id }]);
    expect(await r.remoteDb.selectFrom('validations').select('id').execute()).toHaveLength(1);
    expect(r.replicator.stats).toMatchObject({ pushedRows: 5, pushedBatches: 3, droppedRows: 0, lastError: null, deadLetters: 0 });
    // Stamped by a push of these writes (not an earlier one), however long it took.
    expect(Date.parse(r.replicator.stats.lastPushAt ?? '')).toBeGreaterThanOrEqual(wrote);
    expect(Date.parse(r.replicator.stats.lastPushAt ?? '')).toBeLessThanOrEqual(Date.now());
    expect(r.shrunk).toEqual([2, 2, 1]);
    // Conversations a push changed, batch by batch; a validation-only batch changes none.
    expect(r.replicated).toEqual([[c.id], [gone.id]]);
    // Nothing had run before this kick, so the pull every replicator starts with comes after the pushes.
    expect(r.observed).toEqual(['replicate', 'replicate', 'replicate', 'pull']);
  });

  it('counts writes PostgreSQL dropped because their conversation was deleted elsewhere', async () => {
    const r = await rig();
    await settle(r);
    const c = conversation('deleted elsewhere');
    await pushBatch(r.remote, [{ kind: 'conversation.upsert', row: c }]);
    await pushBatch(r.remote, [{ kind: 'conversation.delete', id: c.id }]);
    await r.write([{ kind: 'message.upsert', row: message(c.id) }]);
    r.replicator.kick();
    await settle(r);
    expect(r.replicator.stats).toMatchObject({ pushedRows: 1, droppedRows: 1 });
    expect(r.logs.find((l) => l.msg === 'writes to conversations deleted elsewhere were dropped')).toMatchObject({ level: 'info', dropped: 1 });
  });

  it('a kick after close does nothing, and close waits for the pass in flight', async () => {
    const r = await rig();
    await settle(r);
    await r.write([{ kind: 'conversation.upsert', row: conversation('late') }]);
    await r.replicator.close();
    r.replicator.kick();
    r.replicator.requestPull();
    await settle(r);
    expect(await r.outbox.count()).toBe(1);
    expect(await remoteTitles(r)).toEqual([]);
  });
});

describe('refused rows', () => {
  it('narrows a refused batch down to the one row, sets it aside and keeps the rest flowing', async () => {
    const r = await rig({ batchSize: 4 });
    await settle(r);
    const good = [conversation('a'), conversation('b'), conversation('c')];
    const bad = conversation('bad \u0000 title'); // PostgreSQL text cannot hold NUL: a data error
    await r.write([
      { kind: 'conversation.upsert', row: good[0] as Conversation },
      { kind: 'conversation.upsert', row: bad },
      { kind: 'conversation.upsert', row: good[1] as Conversation },
    ]);
    r.replicator.kick();
    await settle(r);
    await r.write([{ kind: 'conversation.upsert', row: good[2] as Conversation }]);
    r.replicator.kick();
    await settle(r);
    expect(await remoteTitles(r)).toEqual(['a', 'b', 'c']);
    expect(await r.outbox.count()).toBe(0);
    expect(await r.outbox.deadCount()).toBe(1);
    const dead = await r.local.selectFrom('outbox_dead').selectAll().execute();
    expect(dead[0]).toMatchObject({ seq: 2, entity_id: bad.id });
    expect(r.replicator.stats.deadLetters).toBe(1);
    expect(r.replicator.stats.lastError).toMatch(/\S/);
    const logged = r.logs.find((l) => l.msg === 'PostgreSQL refused a write; it is kept in the outbox_dead table of the local replica');
    expect(logged).toMatchObject({ level: 'error', seq: 2, kind: 'conversation.upsert' });
    // One row per batch while narrowing (1: a, 2: bad, 3: b), then back up: c and the rest go as a batch again.
    expect(r.shrunk).toEqual([1, 1, 1, 1]);
    expect(r.replicator.stats.pushedBatches).toBe(3);
  });

  it('after narrowing, batches grow back to the configured size', async () => {
    const r = await rig({ batchSize: 4 });
    await settle(r);
    await r.write([{ kind: 'conversation.upsert', row: conversation('bad \u0000') }, ...Array.from({ length: 12 }, (_, i) => ({ kind: 'conversation.upsert' as const, row: conversation(`ok ${i}`) }))]);
    r.replicator.kick();
    await settle(r);
    expect(await r.outbox.count()).toBe(0);
    // bad alone (buried), then 1, 2, 4, 4, 1 rows: batch sizes double back up to 4.
    expect(r.shrunk).toEqual([1, 1, 2, 4, 4, 1]);
  });
});

describe('failures', () => {
  it('keeps the rows while PostgreSQL is unreachable, retries on its own, and catches up', async () => {
    const r = await rig({}, { threshold: 1000 });
    await settle(r);
    r.endpoint.down = new Error('connect ECONNREFUSED');
    await r.write([{ kind: 'conversation.upsert', row: conversation('waiting') }]);
    r.replicator.kick();
    await settle(r);
    expect(await r.outbox.count()).toBe(1);
    expect(r.replicator.stats.lastError).toBe('connect ECONNREFUSED');
    expect(r.logs.find((l) => l.msg === 'push failed; the rows stay in the outbox')).toMatchObject({ level: 'debug', kind: 'outage' });
    // The retry timer keeps trying without anyone kicking.
    const failuresBefore = r.breaker.snapshot().failures;
    await waitFor('retries', () => r.breaker.snapshot().failures >= failuresBefore + 2);
    r.endpoint.down = undefined;
    await waitFor('caught up', async () => (await r.outbox.count()) === 0);
    expect(await remoteTitles(r)).toEqual(['waiting']);
  });

  it('stops at an open breaker and resumes when it half-opens', async () => {
    const r = await rig({}, { threshold: 2, resetTimeoutMs: 300 });
    await settle(r);
    r.endpoint.down = new Error('connect ECONNREFUSED');
    await r.write([{ kind: 'conversation.upsert', row: conversation('after the outage') }]);
    r.replicator.kick();
    await waitFor('breaker open', () => r.breaker.state === 'open');
    await settle(r);
    const rejects = r.breaker.snapshot().rejects;
    // While open, a kick does not even try: no call reaches the breaker.
    r.replicator.kick();
    await settle(r);
    expect(r.breaker.snapshot().rejects).toBe(rejects);
    expect(await r.outbox.count()).toBe(1);
    r.endpoint.down = undefined;
    await waitFor('drained after half-open', async () => (await r.outbox.count()) === 0);
    expect(r.breaker.state).toBe('closed');
  });

  it('a pull that fails is retried, and a local failure is logged and retried', async () => {
    const r = await rig({}, { threshold: 1000 });
    await settle(r);
    r.endpoint.down = new Error('pull refused');
    r.replicator.requestPull();
    await settle(r);
    expect(r.replicator.stats.lastError).toBe('pull refused');
    expect(r.logs.some((l) => l.msg === 'pull failed' && l.err === 'pull refused')).toBe(true);
    // Written elsewhere while this replica still cannot pull: a retry that ran between the
    // endpoint coming back and this write committing would pull nothing, and no other pull is due
    // for an hour.
    const other = conversation('from elsewhere');
    await pushBatch(r.remote, [{ kind: 'conversation.upsert', row: other }]);
    r.endpoint.down = undefined;
    await waitFor('pulled on retry', async () => (await r.local.selectFrom('conversations').select('id').execute()).length === 1);

    const broken = await rig({}, { threshold: 1000 });
    await settle(broken);
    await broken.local.schema.dropTable('outbox').execute();
    broken.replicator.kick();
    await settle(broken);
    expect(broken.logs.find((l) => l.msg === 'replication pass failed')).toMatchObject({ level: 'error' });
    expect(broken.replicator.stats.lastError).toMatch(/outbox/);
  });

  it('an open breaker is not an error to record', async () => {
    const r = await rig();
    await settle(r);
    r.breaker.run = () => Promise.reject(new BreakerOpenError('postgres'));
    await r.write([{ kind: 'conversation.upsert', row: conversation('x') }]);
    r.replicator.kick();
    r.replicator.requestPull();
    await settle(r);
    expect(r.replicator.stats.lastError).toBeNull();
    expect(await r.outbox.count()).toBe(1);
  });
});

describe('pulling', () => {
  it('applies what other instances wrote, window by window, and moves the cursor per database', async () => {
    const r = await rig({ pullWindow: 1 });
    await settle(r);
    const c = conversation('theirs');
    const m = message(c.id, 'their message');
    const written = Date.now();
    await pushBatch(r.remote, [{ kind: 'conversation.upsert', row: c }]);
    await pushBatch(r.remote, [{ kind: 'message.upsert', row: m }]);
    await pushBatch(r.remote, [{ kind: 'validation.insert', row: validation() }]);
    r.replicated.length = 0;
    r.replicator.requestPull();
    await settle(r);
    expect((await r.local.selectFrom('messages').select('content').execute()).map((x) => x.content)).toEqual(['their message']);
    expect(await r.local.selectFrom('validations').select('id').execute()).toHaveLength(1);
    // The message's window carries its conversation again, so a reader never sees an orphan: 4 rows.
    expect(r.replicator.stats.pulledRows).toBe(4);
    // Stamped by a pull of these rows, however long it took.
    expect(Date.parse(r.replicator.stats.lastPullAt ?? '')).toBeGreaterThanOrEqual(written);
    expect(Date.parse(r.replicator.stats.lastPullAt ?? '')).toBeLessThanOrEqual(Date.now());
    expect(await r.local.selectFrom('sync_state').selectAll().execute()).toEqual([{ key: 'pull-cursor:db-a', value: '3' }]);
    expect(r.replicated).toEqual([[c.id], [c.id]]);
    expect(r.observed.filter((o) => o === 'pull').length).toBeGreaterThanOrEqual(3);

    // Nothing new: a pull changes nothing and reports nothing.
    r.replicated.length = 0;
    r.replicator.requestPull();
    await settle(r);
    expect(r.replicator.stats.pulledRows).toBe(4);
    expect(r.replicated).toEqual([]);

    // Another database behind the same replica starts from its own cursor.
    r.endpoint.id = 'db-b';
    r.replicator.requestPull();
    await settle(r);
    expect((await r.local.selectFrom('sync_state').selectAll().orderBy('key').execute()).map((x) => x.key)).toEqual(['pull-cursor:db-a', 'pull-cursor:db-b']);
    expect(r.replicator.stats.pulledRows).toBe(8);
  });

  it('does not pull back what this replica pushed', async () => {
    const r = await rig();
    await settle(r);
    await r.write([{ kind: 'conversation.upsert', row: conversation('mine') }]);
    r.replicator.kick();
    await settle(r);
    r.replicator.requestPull();
    await settle(r);
    expect(r.replicator.stats.pulledRows).toBe(0);
    expect((await r.local.selectFrom('sync_state').select('value').execute())[0]?.value).toBe('1');
    // Another instance's write after it is pulled.
    await pushBatch(r.remote, [{ kind: 'conversation.upsert', row: conversation('theirs') }]);
    r.replicator.requestPull();
    await settle(r);
    expect(r.replicator.stats.pulledRows).toBe(1);
  });

  it('keeps local rows with writes waiting, skips streaming replies and orphans, and lets a delete win', async () => {
    const r = await rig();
    await settle(r);
    const c = conversation('theirs');
    const mine = message(c.id, 'mine');
    await pushBatch(r.remote, [{ kind: 'conversation.upsert', row: c }, { kind: 'message.upsert', row: mine }]);
    r.replicator.requestPull();
    await settle(r);
    await r.replicator.close(); // from here on only applyPage runs, driven by the test
    await r.local.transaction().execute(async (trx) => {
      await trx.updateTable('messages').set({ content: 'mine, edited' }).where('id', '=', mine.id).execute();
      await r.outbox.append(trx, [{ kind: 'message.upsert', row: { ...mine, content: 'mine, edited' } }]);
    });
    const streaming = { ...message(c.id, 'still streaming'), status: 'streaming' as const };
    const orphan = message(newId(), 'no parent here');
    const page = {
      after: 1,
      upTo: 2,
      head: 2,
      conversations: [],
      messages: [
        { ...messageRow(mine), content: 'theirs, edited' },
        messageRow(streaming),
        messageRow(orphan),
      ],
      validations: [],
      deletedConversations: [],
    };
    r.replicated.length = 0;
    await r.replicator.applyPage('db-a', page);
    expect((await r.local.selectFrom('messages').select('content').execute()).map((x) => x.content)).toEqual(['mine, edited']);
    expect(r.replicated).toEqual([]);
    await r.replicator.applyPage('db-a', { ...page, after: 2, upTo: 3, head: 3, messages: [], deletedConversations: [c.id] });
    expect(await r.local.selectFrom('conversations').select('id').execute()).toEqual([]);
    expect(r.replicated).toEqual([[c.id]]);
  });

  it('a pull due during a stream of writes gets its turn after a few batches', async () => {
    const r = await rig({ batchSize: 1 });
    await settle(r);
    await r.write(Array.from({ length: 12 }, (_, i) => ({ kind: 'conversation.upsert' as const, row: conversation(`w${i}`) })));
    r.observed.length = 0;
    r.replicator.requestPull();
    await settle(r);
    expect(await r.outbox.count()).toBe(0);
    expect(r.observed.indexOf('pull')).toBe(8);
    expect(r.observed.filter((o) => o === 'replicate')).toHaveLength(12);
  });

  it('pulls on the interval while the breaker is not open', async () => {
    const r = await rig({ pullIntervalMs: 50 });
    await settle(r);
    await pushBatch(r.remote, [{ kind: 'conversation.upsert', row: conversation('by interval') }]);
    await waitFor('pulled by the interval', async () => (await r.local.selectFrom('conversations').select('id').execute()).length === 1);
  });
});
