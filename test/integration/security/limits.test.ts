import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { PATIENCE_MS } from '../../fixtures/patience.js';
import { waitFor, type TestServer } from '../../fixtures/test-server.js';
import { connected, errorCode, tracker } from './helpers.js';

const t = tracker();
afterEach(() => t.cleanup());

/** A non-loopback address of this machine: clients connecting to it count as remote. */
function lanAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}
const lan = lanAddress();

type Ack = { error?: { code: string; message: string } } & Record<string, unknown>;

describe.skipIf(lan === undefined)('RATE_LIMIT_PER_MINUTE counts Socket.IO events', () => {
  it('a remote socket over the limit gets rate-limited acks, and its HTTP requests share the window', async () => {
    const s = await t.server({ provider: { tokens: 2 }, overrides: { host: '0.0.0.0', rateLimitPerMinute: 10 } });
    const remoteUrl = `http://${lan ?? ''}:${s.server.port}`;
    const c = t.client(remoteUrl, { token: s.token });
    await connected(c);
    const acks: Ack[] = [];
    for (let i = 0; i < 8; i++) acks.push((await c.timeout(PATIENCE_MS).emitWithAck('metrics:subscribe')) as Ack);
    expect(acks.every((a) => a.error === undefined)).toBe(true);
    // Two HTTP requests from the same address use up the rest of the window...
    for (let i = 0; i < 2; i++) expect((await fetch(`${remoteUrl}/api/status`, { headers: { Authorization: `Bearer ${s.token}` } })).status).toBe(200);
    // ...so the next events are refused, chat:send included, and nothing is started.
    const refused = (await c.timeout(PATIENCE_MS).emitWithAck('chat:send', { message: 'over the limit' })) as Ack;
    expect(refused.error?.code).toBe('rate-limited');
    const again = (await c.timeout(PATIENCE_MS).emitWithAck('metrics:subscribe')) as Ack;
    expect(again.error?.code).toBe('rate-limited');
    expect(s.provider?.requests.length ?? 0).toBe(0);
    const http = await fetch(`${remoteUrl}/api/status`, { headers: { Authorization: `Bearer ${s.token}` } });
    expect(http.status).toBe(429);
    expect(http.headers.get('retry-after')).not.toBeNull();
  });

  it('60 chat:send in a burst from a remote socket: no more than the limit are accepted', async () => {
    const s = await t.server({ provider: { tokens: 1 }, overrides: { host: '0.0.0.0', rateLimitPerMinute: 20 } });
    const c = t.client(`http://${lan ?? ''}:${s.server.port}`, { token: s.token });
    await connected(c);
    const acks = (await Promise.all(Array.from({ length: 60 }, (_, i) => c.timeout(PATIENCE_MS).emitWithAck('chat:send', { message: `burst ${i}` })))) as Ack[];
    const accepted = acks.filter((a) => a.error === undefined).length;
    expect(accepted).toBeLessThanOrEqual(20);
    expect(acks.filter((a) => a.error?.code === 'rate-limited').length).toBeGreaterThanOrEqual(40);
  });

  it('loopback sockets are not rate limited', async () => {
    const s = await t.server({ provider: false, overrides: { rateLimitPerMinute: 5 } });
    const c = t.client(s.server.wsUrl, { token: s.token });
    await connected(c);
    for (let i = 0; i < 12; i++) expect(((await c.timeout(PATIENCE_MS).emitWithAck('metrics:subscribe')) as Ack).error).toBeUndefined();
  });
});

async function createToken(s: TestServer, name: string): Promise<string> {
  const res = await s.api('/api/tokens', { method: 'POST', json: { name, scope: 'user' } });
  return ((await res.json()) as { token: string }).token;
}

function streamChat(s: TestServer, token: string, signal: AbortSignal): Promise<Response> {
  return fetch(`${s.url}/api/chat`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ message: 'hold on', stream: true }),
    signal,
  });
}

describe('concurrent chat limits', () => {
  it('MAX_CONCURRENT_CHATS_PER_CLIENT per credential and MAX_CONCURRENT_CHATS per instance, over SSE, JSON and Socket.IO', async () => {
    const s = await t.server({ provider: { mode: 'hang' }, overrides: { maxConcurrentChats: 4, maxConcurrentChatsPerClient: 2 } });
    const provider = s.provider;
    if (!provider) throw new Error('no provider');
    const alice = await createToken(s, 'alice');
    const bob = await createToken(s, 'bob');
    const held = new AbortController();

    // Alice: two replies in flight; the third is refused with 429 too-many-chats.
    await Promise.all([streamChat(s, alice, held.signal), streamChat(s, alice, held.signal)]);
    await waitFor(() => provider.activeStreams() === 2, 'two replies streaming');
    const third = await fetch(`${s.url}/api/chat`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${alice}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: 'one more' }),
    });
    expect(third.status).toBe(429);
    expect(await errorCode(third)).toBe('too-many-chats');
    expect(third.headers.get('retry-after')).not.toBeNull();

    // Bob over Socket.IO has his own allowance, and the owner token none; together they fill the instance.
    const socket = t.client(s.server.wsUrl, { token: bob });
    await connected(socket);
    const bobAck = (await socket.timeout(PATIENCE_MS).emitWithAck('chat:send', { message: 'bob' })) as Ack;
    expect(bobAck.error).toBeUndefined();
    await streamChat(s, s.token, held.signal);
    await waitFor(() => provider.activeStreams() === 4, 'four replies streaming');

    // The instance is full: the owner token is refused too, and so is Bob's socket, with an ack.
    const full = await s.api('/api/chat', { method: 'POST', json: { message: 'full', stream: true } });
    expect(full.status).toBe(429);
    expect(await errorCode(full)).toBe('too-many-chats');
    const bobRefused = (await socket.timeout(PATIENCE_MS).emitWithAck('chat:send', { message: 'bob again' })) as Ack;
    expect(bobRefused.error?.code).toBe('too-many-chats');
    expect(provider.requests.filter((r) => r.path.includes('chat')).length).toBe(4);

    // Replies that end give their slots back. A client that goes away no longer ends its reply
    // (it can resume it), so the held ones are cancelled: every streaming reply titled "hold on".
    held.abort();
    const list = (await (await s.api('/api/conversations')).json()) as { items: Array<{ id: string; title: string }> };
    for (const c of list.items.filter((i) => i.title === 'hold on')) {
      const page = (await (await s.api(`/api/conversations/${c.id}`)).json()) as { messages: Array<{ id: string; role: string; status: string }> };
      for (const m of page.messages) if (m.role === 'assistant' && m.status === 'streaming') expect((await s.api(`/api/chat/${m.id}/cancel`, { method: 'POST' })).status).toBe(202);
    }
    await waitFor(() => provider.activeStreams() === 1, 'the cancelled replies to stop');
    const res = await streamChat(s, alice, new AbortController().signal);
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});
