import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisService } from '../fixtures/services/redis.js';
import { startInstances, waitForL2, type Instances } from '../fixtures/instances.js';
import type { TestServer } from '../fixtures/test-server.js';

/**
 * Cross-instance cache invalidation over Redis, with two instances on one store that both see a
 * write as soon as it commits (the same SQLite file, WAL). Whatever each instance holds in L1 or
 * L2, a read on B right after a write on A returns is fresh: the write waits until every instance
 * confirmed it dropped the keys.
 */

let redis: RedisService;
let cluster: Instances;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  redis = await startRedis();
  // Generous Redis and confirmation timeouts: this checks that the protocol keeps every instance
  // fresh, and must not turn red when a starved CI machine stalls an event loop past the
  // production defaults (those bounds are covered in test/unit/cache/two-tier.test.ts).
  cluster = await startInstances({ redisUrl: redis.url, overrides: { redisCommandTimeoutMs: 2000, cacheInvalidationTimeoutMs: 5000 } });
  [a, b] = cluster.all as [TestServer, TestServer];
  await waitForL2(cluster.all, 'up');
});

afterAll(async () => {
  await cluster.close();
  await redis.stop();
});

async function create(t: TestServer, message: string): Promise<string> {
  const res = await t.api('/api/chat', { method: 'POST', json: { message } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { conversationId: string }).conversationId;
}

async function title(t: TestServer, id: string): Promise<string | number> {
  const res = await t.api(`/api/conversations/${id}`);
  if (res.status !== 200) return res.status;
  return ((await res.json()) as { title: string }).title;
}

async function listed(t: TestServer): Promise<Map<string, string>> {
  const page = (await (await t.api('/api/conversations?limit=100')).json()) as { items: Array<{ id: string; title: string }> };
  return new Map(page.items.map((c) => [c.id, c.title]));
}

describe('cache invalidation across instances', () => {
  it('a write on A is visible on B at once (page and list), both ways, every time', async () => {
    const id = await create(a, 'to be renamed');
    // Warm both tiers on both instances.
    for (const t of [a, b, a, b]) {
      expect(await title(t, id)).toBe('to be renamed');
      expect((await listed(t)).get(id)).toBe('to be renamed');
    }
    for (let round = 0; round < 20; round++) {
      const [writer, reader] = round % 2 === 0 ? [a, b] : [b, a];
      const next = `renamed ${round}`;
      const res = await writer.api(`/api/conversations/${id}`, { method: 'PATCH', json: { title: next } });
      expect(res.status).toBe(200);
      expect(await title(reader, id)).toBe(next);
      expect((await listed(reader)).get(id)).toBe(next);
    }
  });

  it('a conversation created on A and deleted on B is gone from both at once', async () => {
    const id = await create(a, 'short-lived');
    for (const t of [a, b]) {
      expect(await title(t, id)).toBe('short-lived');
      expect((await listed(t)).has(id)).toBe(true);
    }
    const res = await b.api(`/api/conversations/${id}`, { method: 'DELETE' });
    expect(res.status).toBeLessThan(300);
    for (const t of [a, b]) {
      expect(await title(t, id)).toBe(404);
      expect((await listed(t)).has(id)).toBe(false);
    }
  });

  it('a new message on A shows in the page B had cached', async () => {
    const id = await create(a, 'first question');
    const before = (await (await b.api(`/api/conversations/${id}`)).json()) as { messages: unknown[] };
    expect(before.messages).toHaveLength(2);
    const res = await a.api('/api/chat', { method: 'POST', json: { message: 'second question', conversationId: id } });
    expect(res.status).toBe(200);
    const after = (await (await b.api(`/api/conversations/${id}`)).json()) as { messages: Array<{ content: string; status: string }> };
    expect(after.messages).toHaveLength(4);
    expect(after.messages.every((m) => m.status === 'complete')).toBe(true);
  });
});
