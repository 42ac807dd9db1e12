import { afterEach, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, DoneEvent, MetricsSnapshot, ServerToClientEvents, TokenEvent } from '../../backend/contract/index.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { expectTokenStream, fakeReply } from '../fixtures/token-stream.js';
import { PATIENCE_MS } from '../fixtures/patience.js';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
const servers: TestServer[] = [];
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  for (const t of servers.splice(0)) await t.close();
});

async function server(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const t = await startTestServer(options);
  servers.push(t);
  return t;
}

function client(t: TestServer, token: string | null = t.token): Client {
  const c: Client = connect(t.server.wsUrl, { path: '/ws', transports: ['websocket'], auth: token === null ? {} : { token }, reconnection: false });
  clients.push(c);
  return c;
}

const connected = (c: Client): Promise<void> =>
  new Promise((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('connect_error', (err) => reject(err));
  });

describe('Socket.IO at /ws', () => {
  it('refuses a handshake without the token or with a wrong one', async () => {
    const t = await server();
    await expect(connected(client(t, null))).rejects.toThrow(/unauthorized/);
    await expect(connected(client(t, 'x'.repeat(40)))).rejects.toThrow(/invalid-token/);
  });

  it('chat:send acks with ids, streams every token to the sender from seq 0, then chat:done', async () => {
    const t = await server({ provider: { tokens: 20 } });
    const c = client(t);
    await connected(c);
    const tokens: TokenEvent[] = [];
    c.on('chat:token', (e) => tokens.push(e));
    const doneSeen = new Promise<DoneEvent>((resolve) => c.on('chat:done', resolve));
    const ack = await c.emitWithAck('chat:send', { message: 'hi over socket' });
    expect(ack).toMatchObject({ conversationId: expect.any(String), messageId: expect.any(String) });
    const done = await doneSeen;
    expect(done.message.id).toBe((ack as { messageId: string }).messageId);
    expect(done.message.status).toBe('complete');
    expect(done.message.content).toBe(fakeReply(20));
    expectTokenStream(tokens, done.message.content, 20);
  });

  it('every client in a conversation room sees the tokens of a turn started over HTTP', async () => {
    const t = await server({ provider: { tokens: 30, tokenIntervalMs: 2 } });
    const first = (await (await t.api('/api/chat', { method: 'POST', json: { message: 'start' } })).json()) as { conversationId: string };
    const watcher = client(t);
    await connected(watcher);
    expect(await watcher.emitWithAck('conversation:join', { conversationId: first.conversationId })).toEqual({ joined: first.conversationId, streaming: [] });
    const tokens: TokenEvent[] = [];
    watcher.on('chat:token', (e) => tokens.push(e));
    const doneSeen = new Promise<DoneEvent>((resolve) => watcher.on('chat:done', resolve));
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'again', conversationId: first.conversationId } });
    const body = (await res.json()) as { message: { id: string; content: string } };
    const done = await doneSeen;
    expect(done.message.id).toBe(body.message.id);
    expect(body.message.content).toBe(fakeReply(30));
    expectTokenStream(tokens, body.message.content, 30);
  });

  it('acks a bad payload with the contract error naming the field', async () => {
    const t = await server();
    const c = client(t);
    await connected(c);
    const ack = (await c.emitWithAck('chat:send', { message: '' })) as { error: { code: string; details: { field: string } } };
    expect(ack.error.code).toBe('invalid-request');
    expect(ack.error.details.field).toBe('message');
    const join = (await c.emitWithAck('conversation:join', { conversationId: '01890a5d-ac96-774b-bcce-b302099a8057' })) as { error: { code: string } };
    expect(join.error.code).toBe('not-found');
  });

  it('chat:cancel stops a streaming reply and chat:done carries the cancelled message', async () => {
    const t = await server({ provider: { tokens: 10_000, tokenIntervalMs: 5 } });
    const c = client(t);
    await connected(c);
    const firstToken = new Promise<TokenEvent>((resolve) => c.once('chat:token', resolve));
    const done = new Promise<DoneEvent>((resolve) => c.on('chat:done', resolve));
    const ack = (await c.emitWithAck('chat:send', { message: 'long' })) as { messageId: string };
    await firstToken;
    expect(await c.emitWithAck('chat:cancel', { messageId: ack.messageId })).toEqual({ cancelled: true });
    const final = await done;
    expect(final.message.status).toBe('cancelled');
    expect(final.message.content.length).toBeGreaterThan(0);
  });

  it('sends metrics ticks to subscribers only', async () => {
    const t = await server({ start: { metricsIntervalMs: 50 } });
    const sub = client(t);
    const other = client(t);
    await Promise.all([connected(sub), connected(other)]);
    let otherTicks = 0;
    other.on('metrics:tick', () => otherTicks++);
    const snapshots: MetricsSnapshot[] = [];
    // Three ticks reached the subscriber: the ticker ran at least three times while the other
    // client was connected, so any tick sent to everyone would have reached it too.
    const third = new Promise<void>((resolve) =>
      sub.on('metrics:tick', (s) => {
        if (snapshots.push(s) === 3) resolve();
      }),
    );
    expect(await sub.emitWithAck('metrics:subscribe')).toEqual({ subscribed: true });
    await third;
    // A round trip over the other client's connection: anything the server sent it before is in.
    expect(await other.emitWithAck('conversation:join', { conversationId: '01890a5d-ac96-774b-bcce-b302099a8057' })).toMatchObject({ error: { code: 'not-found' } });
    expect(otherTicks).toBe(0);
    expect(snapshots[0]?.websocket.clients).toBe(2);
    expect(snapshots[0]?.process.rssBytes).toBeGreaterThan(0);
  });

  it('reports connected clients in /api/status', async () => {
    const t = await server();
    const c = client(t);
    await connected(c);
    // The status body is cached for up to a second: wait for the fresh one, not a fixed time.
    const clients = async (): Promise<number> =>
      ((await (await t.api('/api/status')).json()) as { components: { websocket: { clients: number } } }).components.websocket.clients;
    await expect.poll(clients, { timeout: PATIENCE_MS, interval: 100 }).toBe(1);
  });

  it('serves Socket.IO on its own listener when WEBSOCKET_PORT differs', async () => {
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const t = await server({ overrides: { websocketPort: port } });
    expect(t.server.wsPort).toBe(port);
    expect(t.server.wsUrl).not.toBe(t.server.url);
    const c = client(t);
    await connected(c);
    const ack = await c.emitWithAck('chat:send', { message: 'separate port' });
    expect(ack).toHaveProperty('messageId');
  });
});
