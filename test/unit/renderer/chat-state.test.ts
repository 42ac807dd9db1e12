import { describe, expect, it } from 'vitest';
import {
  applyToken,
  chatReducer,
  emptyStream,
  initialChatState,
  stalledStream,
  streamingMessageId,
  visibleContent,
  type ChatAction,
  type ChatState,
} from '../../../renderer/src/lib/chat-state.js';
import type { Conversation, Message } from '../../../renderer/src/lib/contract.js';
import { newMessage } from '../../../backend/data/store.js';

const CONV = '01900000-0000-7000-8000-000000000001';
const REPLY = '01900000-0000-7000-8000-0000000000a2';
const T0 = '2026-01-01T00:00:00.000Z';

const run = (actions: ChatAction[], from: ChatState = initialChatState): ChatState => actions.reduce(chatReducer, from);

const message = (over: Partial<Message>): Message =>
  newMessage({ id: REPLY, conversationId: CONV, role: 'assistant', content: '', status: 'complete', model: 'fake-model', createdAt: T0, ...over });

const sentAndAcked = (): ChatState =>
  run([
    { type: 'send', localId: 'local-1', text: 'hi', now: T0 },
    { type: 'send-acked', localId: 'local-1', conversationId: CONV, messageId: REPLY, now: T0 },
  ]);

describe('applyToken', () => {
  it('appends in seq order, buffers tokens that arrive early, drops repeats', () => {
    let b = emptyStream(0);
    b = applyToken(b, 0, 'a');
    b = applyToken(b, 2, 'c');
    expect(b.text).toBe('a');
    b = applyToken(b, 1, 'b');
    expect(b.text).toBe('abc');
    b = applyToken(b, 1, 'b');
    b = applyToken(b, 0, 'a');
    expect(b).toMatchObject({ text: 'abc', next: 3, ahead: {} });
  });

  it('adopts the first seq seen when it joined a reply midway', () => {
    let b = emptyStream(null);
    b = applyToken(b, 7, 'x');
    b = applyToken(b, 8, 'y');
    expect(b).toMatchObject({ text: 'xy', next: 9, partial: true });
  });
});

describe('chatReducer', () => {
  it('send → ack → tokens → done produces one stored reply', () => {
    let s = run([{ type: 'send', localId: 'local-1', text: 'hi', now: T0 }]);
    expect(s.sending).toBe(true);
    expect(s.messages).toHaveLength(1);
    s = run([{ type: 'send-acked', localId: 'local-1', conversationId: CONV, messageId: REPLY, now: T0 }], s);
    expect(s.activeId).toBe(CONV);
    expect(s.sending).toBe(false);
    expect(s.messages.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'streaming'],
    ]);
    expect(streamingMessageId(s)).toBe(REPLY);

    s = run(
      [
        { type: 'token', event: { conversationId: CONV, messageId: REPLY, seq: 1, delta: ' world' } },
        { type: 'token', event: { conversationId: CONV, messageId: REPLY, seq: 0, delta: 'hello' } },
      ],
      s,
    );
    const reply = s.messages[1] as Message;
    expect(visibleContent(s, reply)).toBe('hello world');

    s = run([{ type: 'done', event: { conversationId: CONV, message: message({ content: 'hello world!' }) } }], s);
    expect(s.streams).toEqual({});
    expect(visibleContent(s, s.messages[1] as Message)).toBe('hello world!');
    expect(streamingMessageId(s)).toBeNull();
  });

  it('ignores tokens for another conversation', () => {
    const s = run([{ type: 'token', event: { conversationId: 'other', messageId: 'm', seq: 0, delta: 'x' } }], sentAndAcked());
    expect(s.streams[REPLY]?.text).toBe('');
    expect(s.messages).toHaveLength(2);
  });

  it('marks a reply cancelled from chat:done', () => {
    const s = run(
      [
        { type: 'token', event: { conversationId: CONV, messageId: REPLY, seq: 0, delta: 'part' } },
        { type: 'done', event: { conversationId: CONV, message: message({ content: 'part', status: 'cancelled' }) } },
      ],
      sentAndAcked(),
    );
    expect(s.messages[1]?.status).toBe('cancelled');
    expect(streamingMessageId(s)).toBeNull();
  });

  it('keeps the partial text and raises a problem on chat:error', () => {
    const s = run(
      [
        { type: 'token', event: { conversationId: CONV, messageId: REPLY, seq: 0, delta: 'half' } },
        { type: 'error', event: { conversationId: CONV, messageId: REPLY, code: 'provider-disconnected', message: 'cut' } },
      ],
      sentAndAcked(),
    );
    expect(s.messages[1]).toMatchObject({ status: 'error', content: 'half', error: { code: 'provider-disconnected', message: 'cut' } });
    expect(s.problem).toMatchObject({ code: 'provider-disconnected', conversationId: CONV, messageId: REPLY });
  });

  it('drops the optimistic message and keeps the problem when the send is refused (no-provider)', () => {
    const s = run([
      { type: 'send', localId: 'local-1', text: 'hi', now: T0 },
      { type: 'send-failed', localId: 'local-1', problem: { code: 'no-provider', message: 'none', details: { probed: ['http://127.0.0.1:11434/v1'] } } },
    ]);
    expect(s.messages).toEqual([]);
    expect(s.sending).toBe(false);
    expect(s.problem?.code).toBe('no-provider');
  });

  it('replaces acknowledged local messages with the stored ones when the conversation loads', () => {
    const stored = { id: CONV, title: 'hi', createdAt: T0, updatedAt: T0 };
    const s = run(
      [
        {
          type: 'opened',
          conversation: {
            ...stored,
            messages: [message({ id: 'u1', role: 'user', content: 'hi' }), message({ status: 'streaming' })],
          },
        },
      ],
      sentAndAcked(),
    );
    expect(s.messages.map((m) => m.id)).toEqual(['u1', REPLY]);
    expect(s.streams[REPLY]).toBeDefined(); // still streaming: the buffer survives
    expect(s.conversations).toEqual([stored]);
  });

  it('ignores a late load of a conversation the user already left', () => {
    const s = run([
      { type: 'open', id: CONV },
      { type: 'open', id: null },
      { type: 'opened', conversation: { id: CONV, title: 't', createdAt: T0, updatedAt: T0, messages: [message({})] } },
    ]);
    expect(s.activeId).toBeNull();
    expect(s.messages).toEqual([]);
  });

  it('keeps the list sorted and applies created / renamed / deleted events', () => {
    const a: Conversation = { id: 'a', title: 'A', createdAt: T0, updatedAt: '2026-01-01T00:00:01.000Z' };
    const b: Conversation = { id: 'b', title: 'B', createdAt: T0, updatedAt: '2026-01-01T00:00:02.000Z' };
    let s = run([{ type: 'conversations-loaded', items: [a, b] }]);
    expect(s.conversations.map((c) => c.id)).toEqual(['b', 'a']);
    s = run([{ type: 'conversation-updated', event: { conversationId: 'a', reason: 'message', updatedAt: '2026-01-01T00:00:03.000Z' } }], s);
    expect(s.conversations.map((c) => c.id)).toEqual(['a', 'b']);
    s = run([{ type: 'conversation-updated', event: { conversationId: 'c', reason: 'created', title: 'C', updatedAt: '2026-01-01T00:00:04.000Z' } }], s);
    expect(s.conversations.map((c) => c.title)).toEqual(['C', 'A', 'B']);
    s = run([{ type: 'conversation-updated', event: { conversationId: 'b', reason: 'renamed', title: 'Bee', updatedAt: '2026-01-01T00:00:05.000Z' } }], s);
    expect(s.conversations[0]).toMatchObject({ id: 'b', title: 'Bee' });
    // An update for a conversation we never saw and without a title changes nothing (the app refetches).
    expect(run([{ type: 'conversation-updated', event: { conversationId: 'zz', reason: 'message', updatedAt: T0 } }], s)).toBe(s);

    s = run([{ type: 'open', id: 'b' }], s);
    s = run([{ type: 'conversation-updated', event: { conversationId: 'b', reason: 'deleted', updatedAt: T0 } }], s);
    expect(s.activeId).toBeNull();
    expect(s.conversations.map((c) => c.id)).toEqual(['c', 'a']);
  });
});

describe('resuming replies and other viewers', () => {
  const conversation = (messages: Message[]) => ({ id: CONV, title: 't', createdAt: T0, updatedAt: T0, messages });
  const opened = (): ChatState =>
    run([
      { type: 'open', id: CONV },
      { type: 'opened', conversation: conversation([message({ status: 'streaming' })]) },
    ]);

  it('holds live tokens until the join ack, then continues from its text with no gap or repeat', () => {
    let s = opened();
    s = run(
      [
        { type: 'token', event: { conversationId: CONV, messageId: REPLY, seq: 4, delta: 'e' } },
        { type: 'token', event: { conversationId: CONV, messageId: REPLY, seq: 3, delta: 'd' } },
      ],
      s,
    );
    expect(visibleContent(s, s.messages[0] as Message)).toBe('');
    s = run([{ type: 'resume', conversationId: CONV, streaming: [{ messageId: REPLY, seq: 3, content: 'abcd' }] }], s);
    expect(visibleContent(s, s.messages[0] as Message)).toBe('abcde');
    s = run([{ type: 'token', event: { conversationId: CONV, messageId: REPLY, seq: 5, delta: 'f' } }], s);
    expect(visibleContent(s, s.messages[0] as Message)).toBe('abcdef');
    expect(s.streams[REPLY]?.partial).toBe(false);
  });

  it('uses the live tokens when the ack names no reply (an older server, or the reply ended)', () => {
    let s = opened();
    s = run([{ type: 'token', event: { conversationId: CONV, messageId: REPLY, seq: 7, delta: 'x' } }], s);
    s = run([{ type: 'resume', conversationId: CONV, streaming: undefined }], s);
    expect(visibleContent(s, s.messages[0] as Message)).toBe('x');
    expect(s.streams[REPLY]?.partial).toBe(true);
  });

  it('after a reconnect keeps its own text when it is ahead of the snapshot', () => {
    let s = run([...[0, 1, 2].map((seq): ChatAction => ({ type: 'token', event: { conversationId: CONV, messageId: REPLY, seq, delta: String(seq) } }))], sentAndAcked());
    s = run([{ type: 'disconnected' }, { type: 'token', event: { conversationId: CONV, messageId: REPLY, seq: 5, delta: '5' } }], s);
    s = run([{ type: 'resume', conversationId: CONV, streaming: [{ messageId: REPLY, seq: 4, content: '01234' }] }], s);
    expect(visibleContent(s, s.messages.find((m) => m.id === REPLY) as Message)).toBe('012345');
  });

  it('message:created adds turns from other viewers and replaces our own local copy', () => {
    let s = run([{ type: 'open', id: CONV }, { type: 'opened', conversation: conversation([]) }]);
    s = run([{ type: 'send', localId: 'local-9', text: 'mine', now: T0 }], s);
    const stored = message({ id: '01900000-0000-7000-8000-0000000000b1', role: 'user', content: 'mine' });
    s = run([{ type: 'message-created', conversationId: CONV, message: stored }], s);
    expect(s.messages.map((m) => m.id)).toEqual([stored.id]);
    const other = message({ id: '01900000-0000-7000-8000-0000000000b2', role: 'user', content: 'from elsewhere' });
    const reply = message({ id: '01900000-0000-7000-8000-0000000000b3', status: 'streaming' });
    s = run(
      [
        { type: 'message-created', conversationId: CONV, message: other },
        { type: 'message-created', conversationId: CONV, message: reply },
        { type: 'message-created', conversationId: CONV, message: reply },
      ],
      s,
    );
    expect(s.messages.map((m) => m.content)).toEqual(['mine', 'from elsewhere', '']);
    expect(s.streams[reply.id]).toEqual(emptyStream(0));
  });

  it('branch-from drops the message and what follows it', () => {
    const s = run([{ type: 'branch-from', messageId: REPLY }], sentAndAcked());
    expect(s.messages.map((m) => m.role)).toEqual(['user']);
  });
});

describe('stalledStream', () => {
  const token = (seq: number): ChatAction => ({ type: 'token', event: { conversationId: CONV, messageId: REPLY, seq, delta: `t${seq} ` } });

  it('is null while every token arrives in order', () => {
    const s = run([token(0), token(1), token(2)], sentAndAcked());
    expect(stalledStream(s)).toBeNull();
  });

  it('names a reply whose tokens wait behind a missing one, stays the same while it waits, and clears once a join ack fills the gap', () => {
    let s = run([token(0), token(2), token(3)], sentAndAcked());
    expect(visibleContent(s, s.messages.find((m) => m.id === REPLY) as Message)).toBe('t0 ');
    const stalled = stalledStream(s);
    expect(stalled).not.toBeNull();
    s = run([token(4), token(5)], s);
    expect(stalledStream(s)).toBe(stalled);
    // The ack of the join asked again: text up to seq 3; the held tokens after it apply on top.
    s = run([{ type: 'resume', conversationId: CONV, streaming: [{ messageId: REPLY, seq: 3, content: 't0 t1 t2 t3 ' }] }], s);
    expect(visibleContent(s, s.messages.find((m) => m.id === REPLY) as Message)).toBe('t0 t1 t2 t3 t4 t5 ');
    expect(stalledStream(s)).toBeNull();
  });

  it('names a reply held for a join ack (after a reconnect), and not a conversation that is closed', () => {
    const s = run([token(0), { type: 'disconnected' }, token(1)], sentAndAcked());
    expect(stalledStream(s)).not.toBeNull();
    expect(stalledStream({ ...s, activeId: null })).toBeNull();
  });
});
