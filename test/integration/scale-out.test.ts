import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, DoneEvent, ServerToClientEvents, TokenEvent } from '../../backend/contract/index.js';
import { startPostgres, type PrivatePostgres } from '../fixtures/services/postgres.js';
import { startRedis, type RedisService } from '../fixtures/services/redis.js';
import { cacheStatus, chatTurn, replicatedWithinMs, startInstances, titleOf, waitForL2, type Instances } from '../fixtures/instances.js';
import { readSse, waitFor, type TestServer } from '../fixtures/test-server.js';
import { expectTokenStream } from '../fixtures/token-stream.js';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
const PULL_INTERVAL_MS = 300;
/** PostgreSQL mode replicates asynchronously: how long to wait for a change to reach the other instance. */
const REPLICATED_MS = replicatedWithinMs(PULL_INTERVAL_MS);

let redis: RedisService;
let pg: PrivatePostgres;
let cluster: Instances;
let a: TestServer;
let b: TestServer;
const clients: Client[] = [];

beforeAll(async () => {
  [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  const database = await pg.createDatabase('scaleout');
  cluster = await startInstances({
    redisUrl: redis.url,
    databaseUrl: pg.url(database),
    provider: { tokens: 40, tokenIntervalMs: 1 },
    // A Redis command that times out resets the connection and drops the publishes made meanwhile
    // (by design: a slow Redis never holds up a reply). On a loaded machine 250 ms is too tight for
    // a test about fan-out, so Redis gets the same bound as the database here.
    overrides: { dbQueryTimeoutMs: 1000, dbConnectTimeoutMs: 1000, dbPullIntervalMs: PULL_INTERVAL_MS, redisCommandTimeoutMs: 1000 },
  });
  [a, b] = cluster.all as [TestServer, TestServer];
  await waitForL2(cluster.all, 'up');
});

afterAll(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await cluster.close();
  await Promise.all([redis.stop(), pg.stop()]);
});

async function client(t: TestServer): Promise<Client> {
  const c: Client = connect(t.server.wsUrl, { path: '/ws', transports: ['websocket'], auth: { token: t.token }, reconnection: false, forceNew: true });
  clients.push(c);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('connect_error', reject);
  });
  return c;
}

async function listed(t: TestServer): Promise<Map<string, string>> {
  const res = await t.api('/api/conversations?limit=100');
  const page = (await res.json()) as { items: Array<{ id: string; title: string }> };
  return new Map(page.items.map((c) => [c.id, c.title]));
}

describe('several instances sharing PostgreSQL and Redis', () => {
  it('a client on B sees the tokens and chat:done of a turn streamed by A', async () => {
    const first = await chatTurn(a, { message: 'open a conversation' });
    // Joining checks the conversation exists, which B learns once A's write is in PostgreSQL.
    await waitFor(async () => (await titleOf(b, first.conversationId)) === 'open a conversation', 'B sees the conversation', REPLICATED_MS);
    const watcher = await client(b);
    expect(await watcher.emitWithAck('conversation:join', { conversationId: first.conversationId })).toEqual({ joined: first.conversationId, streaming: [] });
    const tokens: TokenEvent[] = [];
    watcher.on('chat:token', (e) => tokens.push(e));
    const done = new Promise<DoneEvent>((resolve) => watcher.on('chat:done', resolve));

    const turn = await chatTurn(a, { message: 'stream to B', conversationId: first.conversationId });
    const seen = await Promise.race([
      done,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no chat:done on B; ${tokens.length} tokens arrived`)), 10_000)),
    ]);
    expect(seen.message.id).toBe(turn.message.id);
    expect(seen.message.status).toBe('complete');
    expectTokenStream(tokens, turn.message.content, 40);
  });

  // PostgreSQL mode is local-first: a write reaches PostgreSQL when the writer's replicator pushes
  // it, and the other instance invalidates again when its pull sees the change. So "fresh on B"
  // is bounded by push + pull here; test/integration/cache-invalidation.test.ts shows "at once"
  // over a store that is shared synchronously.
  it('a write on A reaches B (page and list) within one replication round', async () => {
    const { conversationId: id } = await chatTurn(a, { message: 'to be renamed' });
    await waitFor(async () => (await titleOf(b, id)) === 'to be renamed', 'B sees the new conversation', REPLICATED_MS);
    expect((await listed(b)).get(id)).toBe('to be renamed');

    for (const [writer, reader, next] of [
      [a, b, 'renamed on A'],
      [b, a, 'renamed on B'],
    ] as const) {
      const res = await writer.api(`/api/conversations/${id}`, { method: 'PATCH', json: { title: next } });
      expect(res.status).toBe(200);
      expect(await titleOf(writer, id)).toBe(next);
      await waitFor(async () => (await titleOf(reader, id)) === next && (await listed(reader)).get(id) === next, `${next} on the other instance`, REPLICATED_MS);
    }
  });

  it('a conversation created on A and deleted on B is gone from both', async () => {
    const { conversationId: id } = await chatTurn(a, { message: 'short-lived' });
    await waitFor(async () => (await titleOf(b, id)) === 'short-lived', 'B sees it', REPLICATED_MS);
    expect((await listed(a)).has(id)).toBe(true);
    expect((await listed(b)).has(id)).toBe(true);

    const res = await b.api(`/api/conversations/${id}`, { method: 'DELETE' });
    expect(res.status).toBeLessThan(300);
    expect(await titleOf(b, id)).toBe(404);
    expect((await listed(b)).has(id)).toBe(false);
    await waitFor(async () => (await titleOf(a, id)) === 404 && !(await listed(a)).has(id), 'A no longer has it', REPLICATED_MS);
  });

  it('replays a cached completion as a token stream on another instance, without the provider', async () => {
    const before = cluster.provider.requests.filter((r) => r.path.endsWith('/chat/completions')).length;
    const first = await chatTurn(a, { message: 'deterministic please', cache: true });
    const afterFirst = cluster.provider.requests.filter((r) => r.path.endsWith('/chat/completions')).length;
    expect(afterFirst).toBe(before + 1);

    const res = await b.api('/api/chat', { method: 'POST', json: { message: 'deterministic please', cache: true, stream: true } });
    const events = await readSse(res);
    const tokenEvents = events.filter((e) => e.event === 'token').map((e) => e.data as TokenEvent);
    const tokens = tokenEvents.map((t) => t.delta);
    const done = events.find((e) => e.event === 'done')?.data as { message: { content: string; status: string } };
    expectTokenStream(tokenEvents, first.message.content, 40);
    expect(tokens.join('')).toBe(first.message.content);
    expect(done.message).toMatchObject({ content: first.message.content, status: 'complete' });
    expect(cluster.provider.requests.filter((r) => r.path.endsWith('/chat/completions')).length).toBe(afterFirst);

    // Without the opt-in the provider is asked again.
    await chatTurn(b, { message: 'deterministic please' });
    expect(cluster.provider.requests.filter((r) => r.path.endsWith('/chat/completions')).length).toBe(afterFirst + 1);
  });

  it('serves GET /api/models through the shared cache', async () => {
    const modelCalls = (): number => cluster.provider.requests.filter((r) => r.path.endsWith('/models')).length;
    const before = modelCalls();
    const lists = await Promise.all([a, a, b, a, b].map(async (t) => (await t.api('/api/models')).json()));
    for (const l of lists) expect(l).toMatchObject({ models: ['fake-model', 'fake-model-2'] });
    // A loads once (single flight); B finds it in L2 or, racing A, loads once itself.
    expect(modelCalls() - before).toBeGreaterThanOrEqual(1);
    expect(modelCalls() - before).toBeLessThanOrEqual(2);
    await (await b.api('/api/models')).json();
    await (await a.api('/api/models')).json();
    expect(modelCalls() - before).toBeLessThanOrEqual(2);
  });

  it('reports both cache tiers in /api/status and the cache series in /metrics', async () => {
    // A Redis command slower than its timeout on a busy machine opens the breaker for its reset
    // time; this test is about the report of a healthy L2, so it starts from one.
    await waitForL2([a], 'up');
    // The second read of a list is an L1 hit unless something invalidated lists in between: a row
    // of the previous tests' turns that A pulls from PostgreSQL does. Read again until a hit counts.
    let text = '';
    await waitFor(
      async () => {
        await listed(a);
        await listed(a);
        text = await (await fetch(`${a.url}/metrics`)).text();
        return /orchestra_cache_requests_total\{tier="l1",result="hit"\} [1-9]\d*/.test(text);
      },
      'an L1 hit counted in /metrics',
      REPLICATED_MS,
    );
    const s = await cacheStatus(a);
    expect(s.components.cache.l2).toEqual({ backend: 'redis', status: 'up' });
    expect(s.components.cache.l1).toMatchObject({ entries: expect.any(Number), bytes: expect.any(Number), hitRatio: expect.any(Number) });
    expect(text).toMatch(/orchestra_cache_requests_total\{tier="l2",result="(hit|miss)"\} \d+/);
    expect(text).toMatch(/orchestra_redis_command_duration_seconds_count\{command="read"\} \d+/);
    expect(text).toMatch(/orchestra_breaker_state\{breaker="redis",state="closed"\} 1/);
  });
});
