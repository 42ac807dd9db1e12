import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { startPostgres, type PrivatePostgres } from '../fixtures/services/postgres.js';
import { startRedis, type RedisService } from '../fixtures/services/redis.js';
import { replicatedWithinMs, startInstances, titleOf, waitForL2, type Instances } from '../fixtures/instances.js';
import { TEST_TIMEOUT_MS } from '../fixtures/patience.js';
import { waitFor, type TestServer } from '../fixtures/test-server.js';

/**
 * Cross-instance cache invalidation over Redis, with two instances on one PostgreSQL database as
 * users run them. The writer reads its own write at once. The other instance reads PostgreSQL,
 * which has the write once it was replicated; whatever either instance held in L1 or L2 before,
 * it shows the new value within the replication bound and never falls back to the old one (a
 * stale entry would stay for the whole cache TTL, far beyond that bound).
 */

let redis: RedisService;
let pg: PrivatePostgres;
let cluster: Instances;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  // Generous Redis and confirmation timeouts: this checks that the protocol keeps every instance
  // fresh, and must not turn red when a starved CI machine stalls an event loop past the
  // production defaults (those bounds are covered in test/unit/cache/two-tier.test.ts).
  cluster = await startInstances({ redisUrl: redis.url, postgres: pg, overrides: { redisCommandTimeoutMs: 2000, cacheInvalidationTimeoutMs: 5000 } });
  [a, b] = cluster.all as [TestServer, TestServer];
  await waitForL2(cluster.all, 'up');
});

afterAll(async () => {
  await cluster.close();
  await Promise.all([redis.stop(), pg.stop()]);
});

async function create(t: TestServer, message: string): Promise<string> {
  const res = await t.api('/api/chat', { method: 'POST', json: { message } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { conversationId: string }).conversationId;
}

async function listed(t: TestServer): Promise<Map<string, string>> {
  const page = (await (await t.api('/api/conversations?limit=100')).json()) as { items: Array<{ id: string; title: string }> };
  return new Map(page.items.map((c) => [c.id, c.title]));
}

/** Waits until `reader` shows `expected` for conversation `id`, in the page and in the list. */
async function shows(reader: TestServer, id: string, expected: string | 404): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const page = await titleOf(reader, id);
      const inList = (await listed(reader)).get(id);
      last = `page ${String(page)}, list ${String(inList)}`;
      return page === expected && (expected === 404 ? inList === undefined : inList === expected);
    },
    `${reader.url} to show ${String(expected)} for ${id}`,
    replicatedWithinMs(),
  ).catch(async (err: unknown) => {
    const inPg = await pg.query<{ title: string }>(databaseName(), 'SELECT title FROM conversations WHERE id = $1', [id]);
    const replicas = cluster.all.map((t) => {
      const db = new Sqlite(path.join(t.dataDir, 'replica.db'), { readonly: true });
      try {
        return JSON.stringify(db.prepare('SELECT title, updated_at FROM conversations WHERE id = ?').get(id));
      } finally {
        db.close();
      }
    });
    throw new Error(`${(err as Error).message}; last seen: ${last}; PostgreSQL: ${JSON.stringify(inPg)}; replicas: ${replicas.join(' / ')}`);
  });
}

const databaseName = (): string => new URL(cluster.databaseUrl).pathname.slice(1);

/** Waits until the writer's push of conversation `id` reached PostgreSQL. */
async function inPostgres(id: string, expected: string): Promise<void> {
  await waitFor(
    async () => (await pg.query<{ title: string }>(databaseName(), 'SELECT title FROM conversations WHERE id = $1', [id]))[0]?.title === expected,
    `${expected} in PostgreSQL`,
    replicatedWithinMs(),
  );
}

// Twenty rounds, each waiting for replication: on a loaded machine that takes a while.
describe('cache invalidation across instances', { timeout: 2 * TEST_TIMEOUT_MS }, () => {
  it('a write on A shows on B (page and list) once replicated and stays, both ways, every time', async () => {
    const id = await create(a, 'to be renamed');
    // Warm both tiers on both instances.
    for (const t of [a, b, a, b]) {
      expect(await titleOf(t, id)).toBe('to be renamed');
      expect((await listed(t)).get(id)).toBe('to be renamed');
    }
    for (let round = 0; round < 20; round++) {
      const [writer, reader] = round % 2 === 0 ? [a, b] : [b, a];
      const next = `renamed ${round}`;
      const res = await writer.api(`/api/conversations/${id}`, { method: 'PATCH', json: { title: next } });
      expect(res.status).toBe(200);
      // The writer reads its own write at once, from its cache or its store.
      expect(await titleOf(writer, id)).toBe(next);
      expect((await listed(writer)).get(id)).toBe(next);
      await inPostgres(id, next);
      await shows(reader, id, next);
      // And once in PostgreSQL, fresh for good: no tier hands the old title back. (Before the
      // push lands, the writer's own view may reach the other instance through the shared L2 and
      // the other instance may still read the old row from PostgreSQL: reads across instances are
      // not monotonic until then.)
      for (const t of [reader, writer, reader]) {
        expect(await titleOf(t, id)).toBe(next);
        expect((await listed(t)).get(id)).toBe(next);
      }
    }
  });

  it('a conversation created on A and deleted on B is gone from both', async () => {
    const id = await create(a, 'short-lived');
    expect(await titleOf(a, id)).toBe('short-lived');
    await shows(b, id, 'short-lived');
    // Cached on both before the delete.
    for (const t of [a, b]) expect((await listed(t)).has(id)).toBe(true);
    const res = await b.api(`/api/conversations/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await titleOf(b, id)).toBe(404);
    expect((await listed(b)).has(id)).toBe(false);
    await shows(a, id, 404);
    for (const t of [a, b, a]) {
      expect(await titleOf(t, id)).toBe(404);
      expect((await listed(t)).has(id)).toBe(false);
    }
  });

  it('a new message on A shows in the page B had cached', async () => {
    const id = await create(a, 'first question');
    await shows(b, id, 'first question');
    const page = async (t: TestServer) => (await (await t.api(`/api/conversations/${id}`)).json()) as { messages: Array<{ content: string; status: string }> };
    await waitFor(async () => (await page(b)).messages.length === 2, 'the first turn on B', replicatedWithinMs());
    const res = await a.api('/api/chat', { method: 'POST', json: { message: 'second question', conversationId: id } });
    expect(res.status).toBe(200);
    const after = await waitFor(
      async () => {
        const p = await page(b);
        return p.messages.length === 4 && p.messages.every((m) => m.status === 'complete') ? p : undefined;
      },
      'the second turn, complete, on B',
      replicatedWithinMs(),
    );
    expect(after.messages.map((m) => m.content)).toContain('second question');
  });
});
