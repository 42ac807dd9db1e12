import { afterEach, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { Message } from '../../backend/data/store.js';
import type {
  ClientToServerEvents,
  DoneEvent,
  JoinAck,
  MessageCreatedEvent,
  ServerToClientEvents,
  TokenEvent,
} from '../../backend/contract/events.js';
import { PATIENCE_MS } from '../fixtures/patience.js';
import { startTestServer, waitFor, type TestServer } from '../fixtures/test-server.js';
import { fakeReply } from '../fixtures/token-stream.js';

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

async function client(t: TestServer): Promise<Client> {
  const c: Client = connect(t.server.wsUrl, { path: '/ws', transports: ['websocket'], auth: { token: t.token }, reconnection: false, forceNew: true });
  clients.push(c);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('connect_error', reject);
  });
  return c;
}

async function stored(t: TestServer, conversationId: string, messageId: string): Promise<Message | undefined> {
  const page = (await (await t.api(`/api/conversations/${conversationId}`)).json()) as { messages: Message[] };
  return page.messages.find((m) => m.id === messageId);
}

interface SseEvent {
  id: number | undefined;
  event: string;
  data: unknown;
}

/** Reads SSE frames as they come; `until` stops reading (and aborts) once it returns true. */
async function readEvents(res: Response, until: (events: SseEvent[]) => boolean = () => false, abort?: AbortController): Promise<SseEvent[]> {
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no body');
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let text = '';
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
    let at: number;
    while ((at = text.indexOf('\n\n')) >= 0) {
      const block = text.slice(0, at);
      text = text.slice(at + 2);
      if (block.startsWith(':') || block.trim() === '') continue;
      const e: SseEvent = { id: undefined, event: 'message', data: undefined };
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) e.id = Number(line.slice(4));
        else if (line.startsWith('event: ')) e.event = line.slice(7);
        else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6)) as unknown;
      }
      events.push(e);
    }
    if (until(events)) {
      abort?.abort();
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return events;
}

const tokensOf = (events: SseEvent[]): TokenEvent[] => events.filter((e) => e.event === 'token').map((e) => e.data as TokenEvent);

/** Starts a long reply over SSE and returns its ids once its first tokens arrived; the caller's stream is dropped. */
async function startLongReply(t: TestServer, body: Record<string, unknown> = {}): Promise<{ conversationId: string; messageId: string }> {
  const controller = new AbortController();
  const res = await t.api('/api/chat', { method: 'POST', json: { message: 'tell a long story', stream: true, ...body }, signal: controller.signal });
  const events = await readEvents(res, (e) => tokensOf(e).length >= 3, controller);
  const first = tokensOf(events)[0];
  if (!first) throw new Error('no token');
  return { conversationId: first.conversationId, messageId: first.messageId };
}

describe('replies outlive their viewers', () => {
  it('an SSE client that goes away leaves the reply running to the end; GET /stream follows it with ids and done', async () => {
    const t = await server({ provider: { tokens: 300, tokenIntervalMs: 2 } });
    const { conversationId, messageId } = await startLongReply(t);
    // Give the progress writer time to store some of it, so the stream mixes stored and live parts.
    await waitFor(async () => ((await stored(t, conversationId, messageId))?.content.length ?? 0) > 0, 'progress in the store');

    const res = await t.api(`/api/chat/${messageId}/stream`);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = await readEvents(res);
    const last = events.at(-1);
    expect(last?.event).toBe('done');
    const done = last?.data as DoneEvent;
    expect(done.message.status).toBe('complete');
    expect(done.message.content).toBe(fakeReply(300));
    const tokens = events.filter((e) => e.event === 'token');
    // Every token event carries its seq as the SSE id, seqs increase, and the text joins up exactly.
    for (const e of tokens) expect(e.id).toBe((e.data as TokenEvent).seq);
    const seqs = tokens.map((e) => e.id ?? -1);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(tokensOf(events).map((e) => e.delta).join('')).toBe(fakeReply(300));
    expect(t.provider?.requests.some((r) => r.aborted)).toBe(false);
  });

  it('Last-Event-ID resumes right after that seq, and a finished message answers with its content and done', async () => {
    const t = await server({ provider: { tokens: 300, tokenIntervalMs: 2 } });
    const { conversationId, messageId } = await startLongReply(t);

    const controller = new AbortController();
    const firstPart = await readEvents(await t.api(`/api/chat/${messageId}/stream`, { signal: controller.signal }), (e) => tokensOf(e).length >= 5, controller);
    const lastId = firstPart.filter((e) => e.event === 'token').at(-1)?.id;
    expect(typeof lastId).toBe('number');
    const received = tokensOf(firstPart).map((e) => e.delta).join('');

    const rest = await readEvents(await t.api(`/api/chat/${messageId}/stream`, { headers: { 'Last-Event-ID': String(lastId) } }));
    const restTokens = tokensOf(rest);
    expect(restTokens[0]?.seq).toBeGreaterThan(lastId ?? Infinity);
    expect(received + restTokens.map((e) => e.delta).join('')).toBe(fakeReply(300));
    expect(rest.at(-1)?.event).toBe('done');

    const finished = await readEvents(await t.api(`/api/chat/${messageId}/stream`));
    expect(finished.map((e) => e.event)).toEqual(['token', 'done']);
    expect(tokensOf(finished)[0]?.delta).toBe(fakeReply(300));
    expect((await stored(t, conversationId, messageId))?.status).toBe('complete');

    const missing = await t.api('/api/chat/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/stream');
    expect(missing.status).toBe(404);
  });

  it('a socket that sent a message and disconnected does not stop the reply', async () => {
    const t = await server({ provider: { tokens: 200, tokenIntervalMs: 2 } });
    const c = await client(t);
    const firstToken = new Promise<TokenEvent>((resolve) => c.once('chat:token', resolve));
    const ack = (await c.emitWithAck('chat:send', { message: 'go on without me' })) as { conversationId: string; messageId: string };
    await firstToken;
    c.disconnect();
    const done = await waitFor(async () => {
      const m = await stored(t, ack.conversationId, ack.messageId);
      return m?.status === 'complete' ? m : undefined;
    }, 'the reply to finish');
    expect(done.content).toBe(fakeReply(200));
    expect(t.provider?.requests.some((r) => r.aborted)).toBe(false);
  });

  it('conversation:join mid-reply acks the text so far; live tokens continue at seq + 1 with no gap and no repeat', async () => {
    const t = await server({ provider: { tokens: 400, tokenIntervalMs: 2 } });
    const { conversationId, messageId } = await startLongReply(t);
    for (let round = 0; round < 3; round++) {
      const c = await client(t);
      const live: TokenEvent[] = [];
      const state = { acked: false };
      const early: TokenEvent[] = [];
      c.on('chat:token', (e) => (state.acked ? live : early).push(e));
      const done = new Promise<DoneEvent>((resolve) => c.once('chat:done', resolve));
      // The ack callback, not emitWithAck: tokens read in the same network chunk as the ack would
      // otherwise be handled before the awaiting code runs.
      const ack = await new Promise<JoinAck>((resolve) =>
        c.emit('conversation:join', { conversationId }, (result) => {
          state.acked = true;
          resolve(result as JoinAck);
        }),
      );
      expect(ack.joined).toBe(conversationId);
      const snap = ack.streaming.find((s) => s.messageId === messageId);
      if (!snap) {
        // The reply finished before this round joined.
        expect((await stored(t, conversationId, messageId))?.status).toBe('complete');
        continue;
      }
      const final = await done;
      expect(early).toEqual([]);
      expect(live.map((e) => e.seq)).toEqual(live.map((_, i) => snap.seq + 1 + i));
      expect(snap.content + live.map((e) => e.delta).join('')).toBe(final.message.content);
      expect(final.message.content).toBe(fakeReply(400));
      c.disconnect();
      break;
    }
  });

  it('message:created reaches the room for the user message and the assistant placeholder', async () => {
    const t = await server({ provider: { tokens: 5 } });
    const first = (await (await t.api('/api/chat', { method: 'POST', json: { message: 'open' } })).json()) as { conversationId: string };
    const c = await client(t);
    await c.emitWithAck('conversation:join', { conversationId: first.conversationId });
    const created: MessageCreatedEvent[] = [];
    c.on('message:created', (e) => created.push(e));
    const done = new Promise<DoneEvent>((resolve) => c.once('chat:done', resolve));
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'second turn', conversationId: first.conversationId } });
    const body = (await res.json()) as { message: Message };
    await done;
    await waitFor(() => created.length >= 2, 'two message:created events');
    expect(created.map((e) => [e.conversationId, e.message.role, e.message.status])).toEqual([
      [first.conversationId, 'user', 'complete'],
      [first.conversationId, 'assistant', 'streaming'],
    ]);
    expect(created[0]?.message.content).toBe('second turn');
    expect(created[1]?.message.id).toBe(body.message.id);
    expect(created[1]?.message.parentId).toBe(created[0]?.message.id);
  });

  it('a chat:send over the message limit gets payload-too-large, even far above the transport limit of old', async () => {
    const t = await server({ provider: { tokens: 5 } });
    const c = await client(t);
    for (const size of [100_001, 1_500_000]) {
      const ack = (await c.timeout(PATIENCE_MS).emitWithAck('chat:send', { message: 'x'.repeat(size) })) as { error?: { code: string } };
      expect(ack.error?.code).toBe('payload-too-large');
    }
    expect(c.connected).toBe(true);
    const ok = (await c.emitWithAck('chat:send', { message: 'small' })) as { messageId?: string };
    expect(ok.messageId).toEqual(expect.any(String));
  });

  it('a reply still streaming at shutdown is stored with its text so far', async () => {
    const t = await server({ provider: { tokens: 100_000, tokenIntervalMs: 2 } });
    const { conversationId, messageId } = await startLongReply(t);
    const dataDir = t.dataDir;
    await t.server.close();
    const { openSqlite } = await import('../../backend/data/sqlite.js');
    const { db } = openSqlite(`${dataDir}/app.db`);
    try {
      const row = await db.selectFrom('messages').selectAll().where('id', '=', messageId).executeTakeFirstOrThrow();
      expect(row.conversation_id).toBe(conversationId);
      expect(row.status).toBe('interrupted');
      expect(row.content.startsWith('tok0 tok1 tok2 ')).toBe(true);
      expect(row.stream_progress).toBeNull();
    } finally {
      await db.destroy();
    }
  });
});
