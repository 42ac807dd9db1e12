import { pathToFileURL } from 'node:url';
import { BreakerRegistry } from '../backend/breaker/breaker.js';
import { newId } from '../backend/data/ids.js';
import { openStore } from '../backend/data/open.js';
import { openPostgres, preparePostgres } from '../backend/data/postgres.js';
import type { ReplicatedStore } from '../backend/data/replicated-store.js';
import { newMessage, type Message, type Mutation } from '../backend/data/store.js';
import { startServer } from '../backend/server.js';
import { startFakeProvider } from '../test/fixtures/fake-provider.js';
import { startFaultProxy } from '../test/fixtures/services/fault-proxy.js';
import { startPostgres, type PrivatePostgres } from '../test/fixtures/services/postgres.js';
import { api, silent, tempDir, testConfig } from '../test/integration/postgres/helpers.js';
import { line, percentile } from './lib.js';

/**
 * PostgreSQL mode (issue 3), against a private PostgreSQL started for the run:
 * - outbox drain rate: rows/s from a filled outbox to a local PostgreSQL (target >= 5,000);
 * - chat latency while the breaker is open vs SQLite-only mode, same run (target p99 <= 2x).
 */

function chatMutations(count: number): Mutation[][] {
  const turns: Mutation[][] = [];
  for (let i = 0; i < count; i++) {
    const now = new Date().toISOString();
    const conversation = { id: newId(), title: `bench ${i}`, createdAt: now, updatedAt: now };
    const base = newMessage({ id: newId(), conversationId: conversation.id, role: 'user', content: `question ${i} `.repeat(8), status: 'complete', createdAt: now });
    const reply: Message = { ...base, id: newId(), role: 'assistant', content: `answer ${i} `.repeat(40), status: 'streaming', model: 'fake' };
    // What a chat turn writes: conversation + user message + placeholder, then the final reply.
    turns.push([
      { kind: 'conversation.upsert', row: conversation },
      { kind: 'message.upsert', row: base },
      { kind: 'message.upsert', row: reply },
    ]);
    turns.push([{ kind: 'message.upsert', row: { ...reply, status: 'complete', ttftMs: 3, durationMs: 20 } }]);
  }
  return turns;
}

async function drainRate(pg: PrivatePostgres, rows: number, batchSize: number): Promise<number> {
  const database = await pg.createDatabase('bench');
  const direct = openPostgres({ url: pg.url(database), connectTimeoutMs: 2000, queryTimeoutMs: 5000, logger: silent });
  await preparePostgres(direct.db);
  await direct.close();
  const proxy = await startFaultProxy({ host: pg.host, port: pg.port });
  await proxy.setMode('refuse');
  const data = tempDir('orchestra-bench-pg-');
  const breakers = new BreakerRegistry();
  const config = testConfig({ dataDir: data.dir, databaseUrl: pg.url(database, { port: proxy.port }), dbQueryTimeoutMs: 5000, dbConnectTimeoutMs: 2000 });
  const store = (await openStore(config, { observe: () => () => {}, breakers, logger: silent, tuning: { batchSize } })) as ReplicatedStore;
  try {
    let written = 0;
    for (const turn of chatMutations(Math.ceil(rows / 4))) {
      await store.apply(turn);
      written += turn.length;
    }
    if (store.health().pendingSync !== written) throw new Error(`expected ${written} rows in the outbox, found ${store.health().pendingSync}`);
    // The admin fixes DATABASE_URL: the whole outbox drains to PostgreSQL.
    const started = performance.now();
    await store.reconfigure(pg.url(database));
    while (store.health().pendingSync > 0) await new Promise((r) => setTimeout(r, 2));
    const seconds = (performance.now() - started) / 1000;
    const [count] = await pg.query<{ n: string }>(database, 'SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM conversations) AS n');
    // Four outbox rows per chat turn (the placeholder and the final reply are one message row).
    if (Number(count?.n) !== (written / 4) * 3) throw new Error(`PostgreSQL holds ${count?.n} rows, expected ${(written / 4) * 3}`);
    return written / seconds;
  } finally {
    await store.close();
    breakers.shutdown();
    await proxy.close();
    data.remove();
  }
}

/** store.apply() of chat-turn writes: SQLite mode's store vs PostgreSQL mode with PostgreSQL refused. */
export async function writeLatency(mode: 'sqlite' | 'open', pg: PrivatePostgres, turns: number): Promise<number[]> {
  const data = tempDir('orchestra-bench-write-');
  const proxy = await startFaultProxy({ host: pg.host, port: pg.port });
  await proxy.setMode('refuse');
  const breakers = new BreakerRegistry();
  const databaseUrl = mode === 'open' ? pg.url(await pg.createDatabase('bench'), { port: proxy.port }) : undefined;
  const config = testConfig({ dataDir: data.dir, ...(databaseUrl ? { databaseUrl, circuitBreakerResetMs: 600_000 } : {}) });
  const store = await openStore(config, { observe: () => () => {}, breakers, logger: silent });
  try {
    const work = chatMutations(turns + 50);
    for (const turn of work.slice(0, 100)) await store.apply(turn);
    const deadline = Date.now() + 10_000;
    while (mode === 'open' && store.health().breaker !== 'open') {
      if (Date.now() > deadline) throw new Error(`breaker is ${store.health().breaker}, expected open`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const latencies: number[] = [];
    for (const turn of work.slice(100)) {
      const started = performance.now();
      await store.apply(turn);
      latencies.push(performance.now() - started);
    }
    return latencies;
  } finally {
    await store.close();
    breakers.shutdown();
    await proxy.close();
    data.remove();
  }
}

async function chatLatency(mode: 'sqlite' | 'open', pg: PrivatePostgres, providerUrl: string, chats: number): Promise<number[]> {
  const data = tempDir('orchestra-bench-chat-');
  const proxy = await startFaultProxy({ host: pg.host, port: pg.port });
  let databaseUrl: string | undefined;
  if (mode === 'open') {
    databaseUrl = pg.url(await pg.createDatabase('bench'), { port: proxy.port });
    await proxy.setMode('refuse');
  }
  const server = await startServer(
    testConfig({ dataDir: data.dir, llmBaseUrl: providerUrl, ...(databaseUrl ? { databaseUrl, circuitBreakerResetMs: 600_000 } : {}) }),
    { probeTargets: [] },
  );
  try {
    for (let i = 0; i < 20; i++) await api(server, 'POST', '/api/chat', { message: `warm-up ${i}` });
    if (mode === 'open') {
      const { body } = await api<{ components: { database: { breaker: string } } }>(server, 'GET', '/api/status');
      if (body.components.database.breaker !== 'open') throw new Error(`breaker is ${body.components.database.breaker}, expected open`);
    }
    const latencies: number[] = [];
    const clients = 4;
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        let conversationId: string | undefined;
        for (let i = 0; i < chats / clients; i++) {
          const started = performance.now();
          const res = await api<{ conversationId: string }>(server, 'POST', '/api/chat', { message: `client ${c} turn ${i}`, ...(conversationId ? { conversationId } : {}) });
          latencies.push(performance.now() - started);
          if (res.status !== 200) throw new Error(`chat failed: ${res.status}`);
          conversationId = i % 5 === 4 ? undefined : res.body.conversationId;
        }
      }),
    );
    return latencies;
  } finally {
    await server.close();
    await proxy.close();
    data.remove();
  }
}

export async function postgresBench(): Promise<void> {
  const pg = await startPostgres();
  const provider = await startFakeProvider({ echo: true, tokenIntervalMs: 0 });
  try {
    for (const batchSize of [500, 1000]) {
      const rate = await drainRate(pg, 20_000, batchSize);
      line(`outbox drain, batch ${batchSize} (rows/s)`, `${Math.round(rate)} rows/s`, rate >= 5000 ? 'ok (>= 5,000)' : 'SLOW (< 5,000)');
    }
    const sqliteWrites: number[] = [];
    const openWrites: number[] = [];
    for (let round = 0; round < 3; round++) {
      sqliteWrites.push(...(await writeLatency('sqlite', pg, 2000)));
      openWrites.push(...(await writeLatency('open', pg, 2000)));
    }
    const writeRatio = percentile(openWrites, 0.99) / percentile(sqliteWrites, 0.99);
    line(
      'store write p99, breaker open vs SQLite-only',
      `${percentile(openWrites, 0.99).toFixed(2)} ms vs ${percentile(sqliteWrites, 0.99).toFixed(2)} ms`,
      `${writeRatio.toFixed(2)}x ${writeRatio <= 2 ? 'ok (<= 2x)' : 'SLOW (> 2x)'}`,
    );
    const sqlite: number[] = [];
    const open: number[] = [];
    // Alternate the two modes so machine noise hits both alike.
    for (let round = 0; round < 2; round++) {
      sqlite.push(...(await chatLatency('sqlite', pg, provider.url, 200)));
      open.push(...(await chatLatency('open', pg, provider.url, 200)));
    }
    const p = (v: number[], q: number): string => percentile(v, q).toFixed(1);
    const ratio = percentile(open, 0.99) / percentile(sqlite, 0.99);
    line(
      'chat p99, breaker open vs SQLite-only',
      `${p(open, 0.99)} ms vs ${p(sqlite, 0.99)} ms (p50 ${p(open, 0.5)} vs ${p(sqlite, 0.5)})`,
      `${ratio.toFixed(2)}x ${ratio <= 2 ? 'ok (<= 2x)' : 'SLOW (> 2x)'}`,
    );
  } finally {
    await provider.close();
    await pg.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await postgresBench();
