import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { io as connect, type Socket } from 'socket.io-client';
import { BreakerRegistry } from '../backend/breaker/breaker.js';
import { MemoryCache } from '../backend/cache/memory.js';
import { TwoTierCache } from '../backend/cache/two-tier.js';
import { silentBroadcaster } from '../backend/chat/broadcaster.js';
import { ConversationService } from '../backend/chat/conversations.js';
import { loadConfig } from '../backend/config/load.js';
import { newId } from '../backend/data/ids.js';
import { openStore } from '../backend/data/open.js';
import { newMessage, type Message, type Store } from '../backend/data/store.js';
import type { ClientToServerEvents, ServerToClientEvents, TokenEvent } from '../backend/contract/index.js';
import { isRedisFailure } from '../backend/redis/client.js';
import { startServer, type RunningServer } from '../backend/server.js';
import { startFakeProvider } from '../test/fixtures/fake-provider.js';
import { startPostgres } from '../test/fixtures/services/postgres.js';
import { startRedis } from '../test/fixtures/services/redis.js';
import { line, median, percentile } from './lib.js';

/**
 * The two-tier cache (issue 4), every figure a ratio against a baseline from the same run:
 * - a conversation page from L1 vs the uncached database read (target >= 5x faster);
 * - the same page from L2 (Redis, L1 dropped before each read) vs the database read (target
 *   faster); both against SQLite (desktop) and PostgreSQL mode (the multi-instance setup);
 * - token delivery to a client on another instance (Redis adapter) vs a client on the streaming
 *   instance, per token, same turn (target p50 difference < 2 ms).
 * Redis and PostgreSQL are private servers on free ports; everything else runs in this process.
 */

const silent = pino({ level: 'silent' });

async function seededStore(dataDir: string, messages: number, databaseUrl?: string): Promise<{ store: Store; id: string; close: () => Promise<void> }> {
  const config = loadConfig({
    env: {},
    cwd: dataDir,
    overrides: { dataDir, logToFile: false, logLevel: 'silent', ...(databaseUrl !== undefined ? { databaseUrl } : {}) },
  }).config;
  const breakers = new BreakerRegistry();
  const store = await openStore(config, { observe: () => () => {}, breakers, logger: silent });
  const now = new Date().toISOString();
  const id = newId();
  const rows: Message[] = Array.from({ length: messages }, (_, i) =>
    newMessage({
      id: newId(),
      conversationId: id,
      role: i % 2 === 0 ? 'user' : 'assistant',
      content: `message ${i} `.repeat(60),
      status: 'complete',
      model: i % 2 === 0 ? null : 'bench',
      createdAt: now,
    }),
  );
  await store.apply([{ kind: 'conversation.upsert', row: { id, title: 'bench', createdAt: now, updatedAt: now } }, ...rows.map((row) => ({ kind: 'message.upsert' as const, row }))]);
  // PostgreSQL mode: wait until the rows are in PostgreSQL, so reads come from there.
  const settle = (store as Store & { settle?: () => Promise<void> }).settle;
  if (settle !== undefined) await settle.call(store);
  return {
    store,
    id,
    close: async () => {
      await store.close();
      breakers.shutdown();
    },
  };
}

/** Median µs per call of `fn`, over `rounds` rounds of `perRound` calls. */
async function perCall(fn: () => Promise<unknown>, rounds = 7, perRound = 400): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const started = performance.now();
    for (let i = 0; i < perRound; i++) await fn();
    samples.push(((performance.now() - started) * 1000) / perRound);
  }
  return median(samples);
}

async function pageReads(redisUrl: string, databaseUrl: string | undefined, label: string, messages: number): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'orchestra-bench-cache-'));
  const { store, id, close } = await seededStore(dataDir, messages, databaseUrl);
  const l1 = new MemoryCache({ ttlSeconds: 300 });
  const breakers = new BreakerRegistry();
  const sharedL1 = new MemoryCache({ ttlSeconds: 300 });
  const twoTier = new TwoTierCache({
    l1: sharedL1,
    redisUrl,
    ttlSeconds: 300,
    commandTimeoutMs: 250,
    breaker: breakers.create('redis', { threshold: 5, resetTimeoutMs: 1000, timeoutMs: 300, isFailure: isRedisFailure }),
    logger: silent,
  });
  try {
    while (!twoTier.l2Up) await new Promise((r) => setTimeout(r, 10));
    const memoryOnly = new ConversationService(store, l1, silentBroadcaster);
    const shared = new ConversationService(store, twoTier, silentBroadcaster);
    const pageKey = `orc:v1:conversation:${id}`;
    await memoryOnly.get(id);
    await shared.get(id);
    // Let the background L2 write land.
    await new Promise((r) => setTimeout(r, 50));

    const db = await perCall(() => store.getConversationWithMessages(id));
    const l1Hit = await perCall(() => memoryOnly.get(id));
    const l2Hit = await perCall(async () => {
      sharedL1.drop([pageKey]); // local only: the next read must come from Redis
      return shared.get(id);
    });
    const dbAgain = await perCall(() => store.getConversationWithMessages(id));
    const dbUs = (db + dbAgain) / 2;
    const l1Ratio = dbUs / l1Hit;
    const l2Ratio = dbUs / l2Hit;
    line(`page (${messages} msgs): L1 hit vs ${label}`, `${l1Hit.toFixed(1)} µs vs ${dbUs.toFixed(1)} µs`, `${l1Ratio.toFixed(1)}x ${l1Ratio >= 5 ? 'ok (>= 5x)' : 'SLOW (< 5x)'}`);
    line(`page (${messages} msgs): L2 hit vs ${label}`, `${l2Hit.toFixed(1)} µs vs ${dbUs.toFixed(1)} µs`, `${l2Ratio.toFixed(2)}x ${l2Ratio > 1 ? 'ok (faster)' : 'SLOW (not faster)'}`);
  } finally {
    await twoTier.close();
    breakers.shutdown();
    await close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

async function tokenDelivery(redisUrl: string): Promise<void> {
  const tokens = 300;
  const provider = await startFakeProvider({ tokens, tokenIntervalMs: 3 });
  const dir = mkdtempSync(path.join(tmpdir(), 'orchestra-bench-fanout-'));
  const token = `bench-token-${'x'.repeat(24)}`;
  const servers: RunningServer[] = [];
  const clients: Client[] = [];
  try {
    for (const name of ['a', 'b']) {
      const dataDir = path.join(dir, name);
      const config = loadConfig({
        env: {},
        cwd: dir,
        overrides: {
          dataDir,
          apiPort: 0,
          logToFile: false,
          logLevel: 'silent',
          apiToken: token,
          redisUrl,
          llmBaseUrl: provider.url,
          databaseUrl: `sqlite:///${path.join(dir, 'shared.db')}`,
        },
      }).config;
      servers.push(await startServer(config, { probeTargets: [], logStream: { write: () => true } }));
    }
    const [a, b] = servers as [RunningServer, RunningServer];
    const post = async (body: unknown): Promise<{ conversationId: string }> => {
      const res = await fetch(`${a.url}/api/chat`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      return (await res.json()) as { conversationId: string };
    };
    const { conversationId } = await post({ message: 'open' });
    const arrivals = new Map<Client, Map<number, number>>();
    for (const server of [a, b]) {
      const c: Client = connect(server.wsUrl, { path: '/ws', transports: ['websocket'], auth: { token }, forceNew: true, reconnection: false });
      clients.push(c);
      await new Promise<void>((resolve) => c.once('connect', () => resolve()));
      await c.emitWithAck('conversation:join', { conversationId });
      const seen = new Map<number, number>();
      arrivals.set(c, seen);
      c.on('chat:token', (e: TokenEvent) => seen.set(e.seq, performance.now()));
    }
    const rounds = 3;
    const differences: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const seen of arrivals.values()) seen.clear();
      await post({ message: `round ${r}`, conversationId });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const [same, cross] = [...arrivals.values()] as [Map<number, number>, Map<number, number>];
      for (const [seq, at] of same) {
        const other = cross.get(seq);
        if (other !== undefined) differences.push(other - at);
      }
    }
    const p50 = percentile(differences, 0.5);
    const p99 = percentile(differences, 0.99);
    line(
      'token delivery: other instance vs same instance',
      `+${p50.toFixed(2)} ms p50, +${p99.toFixed(2)} ms p99 (${differences.length} tokens)`,
      p50 < 2 ? 'ok (< 2 ms)' : 'SLOW (>= 2 ms)',
    );
  } finally {
    for (const c of clients) c.disconnect();
    for (const s of servers) await s.close();
    await provider.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function cacheBench(): Promise<void> {
  const [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  try {
    for (const messages of [20, 100]) {
      await pageReads(redis.url, undefined, 'SQLite read', messages);
      await pageReads(redis.url, pg.url(await pg.createDatabase('bench')), 'PostgreSQL read', messages);
    }
    await tokenDelivery(redis.url);
  } finally {
    await Promise.all([redis.stop(), pg.stop()]);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await cacheBench();
