import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../../backend/contract/index.js';
import { readSse, startTestServer, waitFor, type TestServer } from '../fixtures/test-server.js';
import { expectTokenStream, fakeReply } from '../fixtures/token-stream.js';

const servers: TestServer[] = [];
async function server(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const t = await startTestServer(options);
  servers.push(t);
  return t;
}
afterEach(async () => {
  for (const t of servers.splice(0)) await t.close();
});

async function conversation(t: TestServer, id: string): Promise<{ messages: Message[] }> {
  return (await (await t.api(`/api/conversations/${id}`)).json()) as { messages: Message[] };
}

describe('chat over JSON', () => {
  it('stores the user message and the assistant reply and returns the stored reply', async () => {
    const t = await server({ provider: { echo: true } });
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'hello there world' } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { conversationId: string; message: Message };
    expect(body.message).toMatchObject({ role: 'assistant', status: 'complete', content: 'hello there world' });
    expect(body.message.ttftMs).toBeGreaterThanOrEqual(0);
    const stored = await conversation(t, body.conversationId);
    expect(stored.messages.map((m) => [m.role, m.content, m.status])).toEqual([
      ['user', 'hello there world', 'complete'],
      ['assistant', 'hello there world', 'complete'],
    ]);
  });

  it('continues a conversation and sends the history to the provider', async () => {
    const t = await server();
    const first = (await (await t.api('/api/chat', { method: 'POST', json: { message: 'first' } })).json()) as { conversationId: string };
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'second', conversationId: first.conversationId } });
    expect(res.status).toBe(200);
    const last = t.provider?.requests.filter((r) => r.path.endsWith('/chat/completions')).pop();
    const sent = (last?.body as { messages: Array<{ role: string; content: string }> }).messages;
    expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(sent[2]?.content).toBe('second');
    expect((await conversation(t, first.conversationId)).messages).toHaveLength(4);
  });

  it('answers 503 no-provider when nothing is configured or found, and stores nothing', async () => {
    const t = await server({ provider: false });
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'anyone?' } });
    expect(res.status).toBe(503);
    const err = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('no-provider');
    expect(err.message).toMatch(/LLM_BASE_URL/);
    const list = (await (await t.api('/api/conversations')).json()) as { items: unknown[] };
    expect(list.items).toHaveLength(0);
  });

  it('a provider that is down gives a clear error, stores the turn as error, and the server stays healthy', async () => {
    const t = await server();
    t.provider?.set({ mode: 'refuse' });
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'hi' } });
    expect(res.status).toBe(502);
    const err = ((await res.json()) as { error: { code: string; details: { conversationId: string; messageId: string } } }).error;
    expect(['provider-unavailable', 'provider-disconnected']).toContain(err.code);
    const stored = await conversation(t, err.details.conversationId);
    expect(stored.messages.map((m) => m.status)).toEqual(['complete', 'error']);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it('an upstream 500 is reported as provider-error', async () => {
    const t = await server();
    t.provider?.set({ mode: 'http-error', errorStatus: 500 });
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'hi' } });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('provider-error');
  });

  it('a provider that stalls mid-reply times out and keeps the partial reply', async () => {
    // Four tokens in one write, then silence: no timing decides how many arrive. The idle limit is
    // long enough that a starved event loop still reads that write before the timer fires.
    const t = await server({ overrides: { providerIdleTimeoutMs: 1000 }, provider: { tokens: 1000 } });
    t.provider?.set({ mode: 'stall-after', stallAfterTokens: 4, tokensPerChunk: 4 });
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'hi' } });
    expect(res.status).toBe(504);
    const err = ((await res.json()) as { error: { code: string; details: { conversationId: string; messageId: string } } }).error;
    expect(err.code).toBe('provider-timeout');
    const stored = (await conversation(t, err.details.conversationId)).messages.find((m) => m.id === err.details.messageId);
    expect(stored?.status).toBe('error');
    expect(stored?.content).toBe(fakeReply(4));
    expect(stored?.error?.code).toBe('provider-timeout');
  });
});

describe('chat over SSE', () => {
  it('streams token events in order, then done with the stored message', async () => {
    const t = await server({ provider: { tokens: 25 } });
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'stream please', stream: true } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = await readSse(res);
    const tokens = events.filter((e) => e.event === 'token').map((e) => e.data as { seq: number; delta: string; messageId: string });
    const done = events.at(-1);
    expect(done?.event).toBe('done');
    const message = (done?.data as { message: Message }).message;
    expect(message.content).toBe(fakeReply(25));
    expectTokenStream(tokens, message.content, 25);
    expect(message.id).toBe(tokens[0]?.messageId);
    expect(message.status).toBe('complete');
  });

  it('Accept: text/event-stream selects SSE too', async () => {
    const t = await server({ provider: { tokens: 3 } });
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'x' }, headers: { Accept: 'text/event-stream' } });
    const events = await readSse(res);
    expect(events.map((e) => e.event)).toEqual(['token', 'token', 'token', 'done']);
  });

  it('a provider cut mid-stream ends with an error event and the partial reply stored', async () => {
    const t = await server({ provider: { tokens: 50 } });
    t.provider?.set({ mode: 'disconnect-after', disconnectAfterTokens: 5 });
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'x', stream: true } });
    const events = await readSse(res);
    const last = events.at(-1);
    expect(last?.event).toBe('error');
    expect((last?.data as { code: string }).code).toBe('provider-disconnected');
    const received = events.filter((e) => e.event === 'token').map((e) => (e.data as { delta: string }).delta).join('');
    const { conversationId, messageId } = events[0]?.data as { conversationId: string; messageId: string };
    const stored = (await conversation(t, conversationId)).messages.find((m) => m.id === messageId);
    expect(stored?.status).toBe('error');
    expect(stored?.content).toBe(received);
    expect(stored?.error?.code).toBe('provider-disconnected');
  });

  it('a client that goes away does not stop the reply: it runs to its end and is stored complete', async () => {
    const t = await server({ provider: { tokens: 150, tokenIntervalMs: 2 } });
    const controller = new AbortController();
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'long', stream: true }, signal: controller.signal });
    const reader = res.body?.getReader();
    const first = await reader?.read();
    const text = new TextDecoder().decode(first?.value);
    const ids = JSON.parse(/data: (.*)/.exec(text)?.[1] ?? '{}') as { conversationId: string; messageId: string };
    controller.abort();
    const stored = await waitFor(async () => {
      const m = (await conversation(t, ids.conversationId)).messages.find((x) => x.id === ids.messageId);
      return m?.status === 'complete' ? m : undefined;
    }, 'the finished reply to be stored');
    expect(stored.content).toBe(fakeReply(150));
    expect(t.provider?.requests.filter((r) => r.aborted)).toEqual([]);
  });

  it('POST /api/chat/:id/cancel stops a streaming reply', async () => {
    const t = await server({ provider: { tokens: 10_000, tokenIntervalMs: 5 } });
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'long', stream: true } });
    const reader = res.body?.getReader();
    const first = await reader?.read();
    const ids = JSON.parse(/data: (.*)/.exec(new TextDecoder().decode(first?.value))?.[1] ?? '{}') as { messageId: string };
    const cancel = await t.api(`/api/chat/${ids.messageId}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(202);
    let rest = '';
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      rest += new TextDecoder().decode(chunk.value);
    }
    expect(rest).toMatch(/event: done\ndata: .*"status":"cancelled"/);
    const again = await t.api(`/api/chat/${ids.messageId}/cancel`, { method: 'POST' });
    expect(again.status).toBe(404);
  });
});

describe('restart after a crash', () => {
  it('marks replies that were streaming as interrupted at the next start', async () => {
    const first = await server({ provider: { tokens: 10_000, tokenIntervalMs: 5 } });
    const dataDir = first.dataDir;
    const res = await first.api('/api/chat', { method: 'POST', json: { message: 'long', stream: true } });
    const reader = res.body?.getReader();
    const chunk = await reader?.read();
    const ids = JSON.parse(/data: (.*)/.exec(new TextDecoder().decode(chunk?.value))?.[1] ?? '{}') as { conversationId: string; messageId: string };
    // Simulate a crash: write the row back to `streaming` behind the server's back after shutdown.
    await first.server.close();
    const { openSqlite } = await import('../../backend/data/sqlite.js');
    const { db } = openSqlite(`${dataDir}/app.db`);
    await db.updateTable('messages').set({ status: 'streaming' }).where('id', '=', ids.messageId).execute();
    await db.destroy();
    const second = await server({ dataDir });
    const stored = (await conversation(second, ids.conversationId)).messages.find((m) => m.id === ids.messageId);
    expect(stored?.status).toBe('interrupted');
    expect(second.logs.join('')).toMatch(/marked interrupted/);
  });

  it('shutting down mid-stream stores the partial reply as interrupted', async () => {
    const t = await server({ provider: { tokens: 10_000, tokenIntervalMs: 5 } });
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'long', stream: true } });
    const reader = res.body?.getReader();
    const chunk = await reader?.read();
    const ids = JSON.parse(/data: (.*)/.exec(new TextDecoder().decode(chunk?.value))?.[1] ?? '{}') as { conversationId: string; messageId: string };
    await t.server.close();
    const { openSqlite } = await import('../../backend/data/sqlite.js');
    const { db } = openSqlite(`${t.dataDir}/app.db`);
    const row = await db.selectFrom('messages').selectAll().where('id', '=', ids.messageId).executeTakeFirst();
    await db.destroy();
    expect(row?.status).toBe('interrupted');
    expect(row?.content.length).toBeGreaterThan(0);
  });
});
