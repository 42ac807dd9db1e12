import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, DoneEvent, JoinAck, MessageCreatedEvent, ServerToClientEvents, TokenEvent } from '../../backend/contract/events.js';
import { startPostgres, type PrivatePostgres } from '../fixtures/services/postgres.js';
import { startRedis, type RedisService } from '../fixtures/services/redis.js';
import { startInstances, waitForL2, type Instances } from '../fixtures/instances.js';
import { readSse, waitFor, type TestServer } from '../fixtures/test-server.js';
import { fakeReply } from '../fixtures/token-stream.js';

// A reply streamed by instance A, followed from instance B: both in PostgreSQL mode, sharing
// PostgreSQL and Redis. B finds the text so far in PostgreSQL (A stores progress as it streams)
// and the live tokens through Redis.
type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
const PULL_INTERVAL_MS = 300;
const TOKENS = 600;

let redis: RedisService;
let pg: PrivatePostgres;
let cluster: Instances;
let a: TestServer;
let b: TestServer;
const clients: Client[] = [];

beforeAll(async () => {
  [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  const database = await pg.createDatabase('resume');
  cluster = await startInstances({
    redisUrl: redis.url,
    databaseUrl: pg.url(database),
    provider: { tokens: TOKENS, tokenIntervalMs: 3 },
    overrides: { dbQueryTimeoutMs: 1000, dbConnectTimeoutMs: 1000, dbPullIntervalMs: PULL_INTERVAL_MS },
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

async function visibleOn(t: TestServer, conversationId: string): Promise<void> {
  // A precondition, not what these tests check: replication's own timing is scale-out.test.ts's.
  await waitFor(async () => (await t.api(`/api/conversations/${conversationId}`)).status === 200, 'the conversation on the other instance');
}

/** A long reply on A, started by a socket on A that then goes away. */
async function longReplyOnA(conversationId: string): Promise<{ messageId: string }> {
  const sender = await client(a);
  const firstTokens = new Promise<void>((resolve) => {
    sender.on('chat:token', (e) => {
      if (e.seq >= 20) resolve();
    });
  });
  const ack = (await sender.emitWithAck('chat:send', { message: 'a long one', conversationId })) as { messageId: string };
  await firstTokens;
  sender.disconnect();
  return ack;
}

describe('replies followed across instances (PostgreSQL + Redis)', () => {
  it('a client of B joining a reply streamed by A gets the text so far, then every later token once, then done', async () => {
    cluster.provider.set({ tokens: 3 });
    const opened = (await (await a.api('/api/chat', { method: 'POST', json: { message: 'open' } })).json()) as { conversationId: string };
    cluster.provider.set({ tokens: TOKENS });
    await visibleOn(b, opened.conversationId);

    const watcherOnB = await client(b);
    const created: MessageCreatedEvent[] = [];
    watcherOnB.on('message:created', (e) => created.push(e));
    await watcherOnB.emitWithAck('conversation:join', { conversationId: opened.conversationId });

    const { messageId } = await longReplyOnA(opened.conversationId);
    // message:created crossed to B for both new messages.
    await waitFor(() => created.length >= 2, 'message:created on B');
    expect(created.map((e) => e.message.role)).toEqual(['user', 'assistant']);
    expect(created[1]?.message.id).toBe(messageId);

    const joiner = await client(b);
    const state = { acked: false };
    const early: TokenEvent[] = [];
    const live: TokenEvent[] = [];
    joiner.on('chat:token', (e) => (state.acked ? live : early).push(e));
    const done = new Promise<DoneEvent>((resolve) => joiner.once('chat:done', resolve));
    const ack = await new Promise<JoinAck>((resolve) =>
      joiner.emit('conversation:join', { conversationId: opened.conversationId }, (result) => {
        state.acked = true;
        resolve(result as JoinAck);
      }),
    );
    const snap = ack.streaming.find((s) => s.messageId === messageId);
    expect(snap).toBeDefined();
    if (!snap) return;
    expect(snap.seq).toBeGreaterThanOrEqual(20);
    const final = await done;
    expect(early).toEqual([]);
    expect(live.map((e) => e.seq)).toEqual(live.map((_, i) => snap.seq + 1 + i));
    expect(snap.content + live.map((e) => e.delta).join('')).toBe(final.message.content);
    expect(final.message.content).toBe(fakeReply(TOKENS));
    expect(final.message.status).toBe('complete');
  });

  it('GET /api/chat/:id/stream on B follows a reply streamed by A, and resumes after Last-Event-ID', async () => {
    cluster.provider.set({ tokens: 3 });
    const opened = (await (await a.api('/api/chat', { method: 'POST', json: { message: 'open again' } })).json()) as { conversationId: string };
    cluster.provider.set({ tokens: TOKENS });
    await visibleOn(b, opened.conversationId);
    const { messageId } = await longReplyOnA(opened.conversationId);

    // Read a part on B, drop the connection, then resume on B after the last id received.
    const controller = new AbortController();
    const res = await b.api(`/api/chat/${messageId}/stream`, { signal: controller.signal });
    const reader = res.body?.getReader();
    let text = '';
    while ((text.match(/event: token/g) ?? []).length < 3) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    controller.abort();
    const firstPart = [...text.matchAll(/id: (\d+)\nevent: token\ndata: (.*)\n\n/g)].map((m) => ({ id: Number(m[1]), token: JSON.parse(m[2] ?? '{}') as TokenEvent }));
    const lastId = firstPart.at(-1)?.id ?? -1;
    expect(lastId).toBeGreaterThanOrEqual(20);
    const received = firstPart.map((p) => p.token.delta).join('');

    const events = await readSse(await b.api(`/api/chat/${messageId}/stream`, { headers: { 'Last-Event-ID': String(lastId) } }));
    const tokens = events.filter((e) => e.event === 'token').map((e) => e.data as TokenEvent);
    const done = events.at(-1);
    expect(done?.event).toBe('done');
    const final = (done?.data as DoneEvent).message;
    expect(tokens[0]?.seq).toBeGreaterThan(lastId);
    expect(received + tokens.map((e) => e.delta).join('')).toBe(final.content);
    expect(final.content).toBe(fakeReply(TOKENS));
    const seqs = tokens.map((t) => t.seq);
    expect([...new Set(seqs)].sort((x, y) => x - y)).toEqual(seqs);

    // B has the finished message (from PostgreSQL): content and done at once.
    const again = await readSse(await b.api(`/api/chat/${messageId}/stream`));
    expect(again.map((e) => e.event)).toEqual(['token', 'done']);
  });
});
