import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect } from 'socket.io-client';
import type { DoneEvent, TokenEvent } from '../../backend/contract/index.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/services/fault-proxy.js';
import { startPostgres, type PrivatePostgres } from '../fixtures/services/postgres.js';
import { startRedis, type RedisService } from '../fixtures/services/redis.js';
import { cacheStatus, replicatedWithinMs, startInstances, waitForL2, type Instances } from '../fixtures/instances.js';
import { PATIENCE_MS, SCHEDULING_SLACK_MS } from '../fixtures/patience.js';
import { waitFor, type TestServer } from '../fixtures/test-server.js';
import { expectTokenStream } from '../fixtures/token-stream.js';

/**
 * Redis failing under load. Every request must succeed whatever Redis does; nothing may wait on
 * Redis longer than its command timeout; and reads must be fresh once it is back.
 */

const COMMAND_TIMEOUT_MS = 200;

let redis: RedisService;
let pg: PrivatePostgres;
beforeAll(async () => {
  [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
});
afterAll(async () => {
  await Promise.all([redis.stop(), pg.stop()]);
});

interface Load {
  stop(): Promise<{ ok: number; failed: string[]; worstMs: number; during: (phase: string) => { ok: number; worstMs: number } }>;
  phase(name: string): void;
  /** Requests that succeeded so far in a phase. */
  okIn(phase: string): number;
}

/** Readers and writers against every instance, until stopped; records failures and latency. */
function startLoad(all: TestServer[], ids: string[], workers = 6): Load {
  let running = true;
  let phase = 'before';
  let ok = 0;
  let worstMs = 0;
  const failed: string[] = [];
  const byPhase = new Map<string, { ok: number; worstMs: number }>();
  let n = 0;
  const one = async (w: number): Promise<void> => {
    const t = all[(w + n) % all.length] as TestServer;
    const id = ids[n % ids.length] as string;
    const kind = n++ % 5;
    const started = performance.now();
    let res: Response;
    if (kind === 0) res = await t.api(`/api/conversations/${id}`, { method: 'PATCH', json: { title: `t${n}` } });
    else if (kind === 1) res = await t.api('/api/conversations?limit=20');
    else res = await t.api(`/api/conversations/${id}`);
    await res.arrayBuffer();
    const ms = performance.now() - started;
    if (res.status !== 200) failed.push(`${res.status} ${kind}`);
    else {
      ok++;
      worstMs = Math.max(worstMs, ms);
      const p = byPhase.get(phase) ?? { ok: 0, worstMs: 0 };
      p.ok++;
      p.worstMs = Math.max(p.worstMs, ms);
      byPhase.set(phase, p);
    }
  };
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (running) {
      try {
        await one(w);
      } catch (err) {
        failed.push((err as Error).message);
      }
    }
  });
  return {
    phase(name: string) {
      phase = name;
    },
    okIn: (p: string) => byPhase.get(p)?.ok ?? 0,
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, failed, worstMs, during: (p: string) => byPhase.get(p) ?? { ok: 0, worstMs: 0 } };
    },
  };
}

async function seed(t: TestServer, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await t.api('/api/chat', { method: 'POST', json: { message: `seed ${i}` } });
    ids.push(((await res.json()) as { conversationId: string }).conversationId);
  }
  return ids;
}

/** Waits until every instance serves every seeded conversation (PostgreSQL replicates asynchronously). */
async function replicated(all: TestServer[], ids: string[]): Promise<void> {
  for (const t of all) {
    for (const id of ids) await waitFor(async () => (await t.api(`/api/conversations/${id}`)).status === 200, `${id} on ${t.url}`, replicatedWithinMs());
  }
}

/**
 * A write on `writer` shows on `reader`, page and list, once PostgreSQL replicated it (the instances
 * share PostgreSQL, which replicates asynchronously). A stale cache entry would outlive that bound
 * by the whole TTL.
 */
async function expectFreshAcross(writer: TestServer, reader: TestServer, id: string, title: string): Promise<void> {
  const res = await writer.api(`/api/conversations/${id}`, { method: 'PATCH', json: { title } });
  expect(res.status).toBe(200);
  await waitFor(
    async () => {
      const page = (await (await reader.api(`/api/conversations/${id}`)).json()) as { title: string };
      const list = (await (await reader.api('/api/conversations?limit=20')).json()) as { items: Array<{ id: string; title: string }> };
      return page.title === title && list.items.find((c) => c.id === id)?.title === title;
    },
    `"${title}" on ${reader.url}`,
    replicatedWithinMs(),
  );
}

/** Lets the load run until `count` requests of the phase succeeded (a busy machine just takes longer). */
const served = (load: Load, phase: string, count: number): Promise<boolean> => waitFor(() => load.okIn(phase) >= count, `${count} requests served during ${phase}`, PATIENCE_MS);

describe('Redis outages under load', () => {
  it('kill -9 and restart: zero failed requests, L2 down then up, fresh reads after', async () => {
    const cluster: Instances = await startInstances({ postgres: pg, redisUrl: redis.url, overrides: { redisCommandTimeoutMs: COMMAND_TIMEOUT_MS } });
    try {
      const [a, b] = cluster.all as [TestServer, TestServer];
      await waitForL2(cluster.all, 'up');
      const ids = await seed(a, 5);
      await replicated(cluster.all, ids);
      const load = startLoad(cluster.all, ids);
      await served(load, 'before', 10);

      load.phase('down');
      await redis.kill9();
      await waitForL2(cluster.all, 'down');
      expect((await cacheStatus(a)).status).toBe('degraded');
      await served(load, 'down', 25);

      load.phase('recovering');
      await redis.restart();
      await waitForL2(cluster.all, 'up');
      load.phase('after');
      await served(load, 'after', 25);
      const result = await load.stop();

      expect(result.failed).toEqual([]);
      expect(result.during('down').ok).toBeGreaterThan(20);
      expect(result.during('after').ok).toBeGreaterThan(20);
      // Fresh across instances once Redis is back (the restarted Redis is empty; L1s were flushed).
      for (let i = 0; i < 5; i++) {
        await expectFreshAcross(a, b, ids[i] as string, `after restart a${i}`);
        await expectFreshAcross(b, a, ids[i] as string, `after restart b${i}`);
      }
      expect((await cacheStatus(a)).status).toBe('ok');
    } finally {
      await cluster.close();
    }
  });

  it('a black-holed Redis: latency stays within the command timeout and nothing fails', async () => {
    const timeoutMs = 400;
    const proxy: FaultProxy = await startFaultProxy({ host: redis.host, port: redis.port });
    const cluster = await startInstances({ postgres: pg,
      redisUrl: `redis://127.0.0.1:${proxy.port}`,
      overrides: { redisCommandTimeoutMs: timeoutMs, circuitBreakerResetMs: 1000 },
    });
    try {
      const [a, b] = cluster.all as [TestServer, TestServer];
      await waitForL2(cluster.all, 'up');
      const ids = await seed(a, 5);
      await replicated(cluster.all, ids);
      const load = startLoad(cluster.all, ids);
      await served(load, 'before', 50);
      load.phase('blackhole');
      await proxy.setMode('blackhole');
      await waitForL2(cluster.all, 'down');
      await served(load, 'blackhole', 25);
      load.phase('restored');
      await proxy.setMode('pass');
      await waitForL2(cluster.all, 'up');
      await served(load, 'restored', 10);
      const result = await load.stop();

      expect(result.failed).toEqual([]);
      const hole = result.during('blackhole');
      const before = result.during('before');
      console.info(`black hole: ${hole.ok} requests, worst ${hole.worstMs.toFixed(0)} ms (before: ${before.worstMs.toFixed(0)} ms, timeout ${timeoutMs} ms)`);
      expect(hole.ok).toBeGreaterThan(20);
      // Every request was answered: a Redis wait ends at the command timeout. The slack is a loaded
      // machine's scheduling, so this tells a timeout that fires from a hang, not one Redis wait
      // from two (the unit tests of the two-tier cache count those).
      expect(hole.worstMs).toBeLessThan(timeoutMs + SCHEDULING_SLACK_MS);
      await expectFreshAcross(a, b, ids[0] as string, 'after the black hole');
      await expectFreshAcross(b, a, ids[1] as string, 'after the black hole, reversed');
    } finally {
      await cluster.close();
      await proxy.close();
    }
  });

  it('Socket.IO keeps working on a single instance while Redis is down', async () => {
    const cluster = await startInstances({ postgres: pg, count: 1, redisUrl: redis.url, provider: { tokens: 25 }, overrides: { redisCommandTimeoutMs: COMMAND_TIMEOUT_MS } });
    const socket = connect((cluster.all[0] as TestServer).server.wsUrl, {
      path: '/ws',
      transports: ['websocket'],
      auth: { token: cluster.token },
      reconnection: false,
      forceNew: true,
    });
    try {
      await waitForL2(cluster.all, 'up');
      await redis.kill9();
      await waitForL2(cluster.all, 'down');
      await new Promise<void>((resolve, reject) => {
        if (socket.connected) resolve();
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      const tokens: TokenEvent[] = [];
      socket.on('chat:token', (e) => tokens.push(e));
      const done = new Promise<DoneEvent>((resolve) => socket.on('chat:done', resolve));
      const ack = (await socket.emitWithAck('chat:send', { message: 'while redis is down' })) as { messageId: string };
      const finished = await done;
      expect(finished.message.id).toBe(ack.messageId);
      expect(finished.message.status).toBe('complete');
      expectTokenStream(tokens, finished.message.content, 25);
    } finally {
      socket.disconnect();
      await cluster.close();
      await redis.restart();
    }
  });
});
