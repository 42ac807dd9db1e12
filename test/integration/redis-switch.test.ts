import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, DoneEvent, ServerToClientEvents } from '../../backend/contract/index.js';
import { startRedis, type RedisService } from '../fixtures/services/redis.js';
import { cacheStatus, chatTurn, replicatedWithinMs, startInstances, titleOf, waitForL2, type Instances } from '../fixtures/instances.js';
import { PATIENCE_MS } from '../fixtures/patience.js';
import { waitFor, type TestServer } from '../fixtures/test-server.js';

// REDIS_URL switched live on two instances sharing one PostgreSQL: memory -> Redis -> another
// Redis -> memory. The cache's cross-instance invalidation and the Socket.IO relay follow.
type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

let first: RedisService;
let second: RedisService;
let cluster: Instances;
let a: TestServer;
let b: TestServer;
const clients: Client[] = [];

beforeAll(async () => {
  [first, second] = await Promise.all([startRedis(), startRedis()]);
  cluster = await startInstances({ redisUrl: 'memory://', provider: { tokens: 20, tokenIntervalMs: 1 }, overrides: { redisCommandTimeoutMs: 1000 } });
  [a, b] = cluster.all as [TestServer, TestServer];
});

afterAll(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await cluster?.close();
  await Promise.all([first?.stop(), second?.stop()]);
});

async function rename(t: TestServer, id: string, next: string): Promise<void> {
  const res = await t.api(`/api/conversations/${id}`, { method: 'PATCH', json: { title: next } });
  expect(res.status).toBe(200);
}

async function switchAll(url: string): Promise<void> {
  for (const t of [a, b]) expect(await t.server.reconfigure({ redisUrl: url })).toEqual({ applied: ['redisUrl'], restartRequired: [] });
}

/**
 * B caches the page, A renames it: B shows the new title once PostgreSQL replicated it. A stale
 * page left in either cache tier would outlive that bound by the whole cache TTL (300 s).
 */
async function expectFreshAcross(id: string, next: string): Promise<void> {
  await titleOf(b, id);
  await rename(a, id, next);
  let seen: string | number = '';
  await waitFor(async () => (seen = await titleOf(b, id)) === next, `B shows "${next}"`, replicatedWithinMs()).catch(() => undefined);
  expect(seen).toBe(next);
}

async function joined(t: TestServer, id: string): Promise<Client> {
  const watcher: Client = connect(t.server.wsUrl, { path: '/ws', transports: ['websocket'], auth: { token: t.token }, reconnection: false, forceNew: true });
  clients.push(watcher);
  await new Promise<void>((resolve, reject) => {
    watcher.once('connect', () => resolve());
    watcher.once('connect_error', reject);
  });
  expect(await watcher.emitWithAck('conversation:join', { conversationId: id })).toMatchObject({ joined: id });
  return watcher;
}

/** The watcher receives chat:done of a turn `writer` streams. */
async function expectDone(watcher: Client, writer: TestServer, id: string): Promise<void> {
  const done = new Promise<DoneEvent>((resolve) => watcher.once('chat:done', resolve));
  const turn = await chatTurn(writer, { message: 'relayed turn', conversationId: id });
  const seen = await Promise.race([done, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no chat:done for the watcher')), PATIENCE_MS))]);
  expect(seen.message.id).toBe(turn.message.id);
}

/** A client that joins on B now, and `early` (joined on B before any switch), see a turn A streams. */
async function expectRelayed(early: Client, id: string): Promise<void> {
  const fresh = await joined(b, id);
  const earlyDone = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no chat:done for the client that joined before the switch')), PATIENCE_MS);
    early.once('chat:done', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await Promise.all([expectDone(fresh, a, id), earlyDone]);
  fresh.disconnect();
}

describe('REDIS_URL switched live', () => {
  it('memory -> Redis -> another Redis -> memory: invalidation and relay across instances follow', async () => {
    const { conversationId: id } = await chatTurn(a, { message: 'cached across instances' });
    // Joined before any switch: its room membership must survive every adapter change.
    const early = await joined(b, id);
    // Memory only: B's own pulls from PostgreSQL drop its cached page.
    expect((await cacheStatus(a)).components.cache.l2.backend).toBe('none');
    await expectFreshAcross(id, 'renamed without Redis');

    await switchAll(first.url);
    await waitForL2([a, b], 'up');
    // No page older than the last rename survives the switch.
    expect(await titleOf(b, id)).toBe('renamed without Redis');
    await expectFreshAcross(id, 'renamed over the first Redis');
    await expectRelayed(early, id);
    const stats = (await cacheStatus(a)).components;
    expect(stats.cache.l2.backend).toBe('redis');
    expect(await (await a.api('/api/breakers')).json()).toMatchObject({ breakers: expect.arrayContaining([expect.objectContaining({ name: 'redis' })]) });

    await switchAll(second.url);
    await waitForL2([a, b], 'up');
    await expectFreshAcross(id, 'renamed over the second Redis');
    await expectRelayed(early, id);
    // The first Redis is no longer used: stopping it changes nothing.
    await first.stop();
    await expectFreshAcross(id, 'first Redis gone');
    await expectRelayed(early, id);

    await switchAll('memory://');
    expect((await cacheStatus(a)).components.cache.l2.backend).toBe('none');
    const breakers = (await (await a.api('/api/breakers')).json()) as { breakers: Array<{ name: string }> };
    expect(breakers.breakers.map((x) => x.name)).not.toContain('redis');
    // Each instance alone again: the client that joined before all the switches still gets the
    // events of its own instance.
    await expectDone(early, b, id);
    expect(await titleOf(a, id)).toBe('first Redis gone');
  });
});
