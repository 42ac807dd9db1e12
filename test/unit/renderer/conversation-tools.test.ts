import { describe, expect, it } from 'vitest';
import { fromText, readSettings } from '../../../renderer/src/lib/api.js';
import { chatReducer, initialChatState, isLocalId, parentOf, type ChatState } from '../../../renderer/src/lib/chat-state.js';
import type { BranchFields, Message, SearchHit } from '../../../renderer/src/lib/contract.js';
import { groupHits, matchSummary } from '../../../renderer/src/lib/search.js';
import { importSummary } from '../../../renderer/src/lib/transfer.js';
import { newMessage } from '../../../backend/data/store.js';

const C1 = '01900000-0000-7000-8000-000000000001';
const C2 = '01900000-0000-7000-8000-000000000002';
const T0 = '2026-01-01T00:00:00.000Z';
const hit = (conversationId: string, messageId: string | null, snippet: string): SearchHit => ({ conversationId, messageId, title: `title of ${conversationId.slice(-1)}`, snippet, createdAt: T0 });
const msg = (id: string, role: Message['role'], over: Partial<Message & BranchFields> = {}): Message & BranchFields => ({
  ...newMessage({ id, conversationId: C1, role, content: id, status: 'complete', model: null, createdAt: T0 }),
  ...over,
});

describe('search results, one per conversation', () => {
  it('merges a title hit and message hits of one conversation, in rank order, opening at the best message', () => {
    const results = groupHits([hit(C1, null, 'title of 1'), hit(C2, 'm-c2', 'in c2'), hit(C1, 'm-a', 'first match'), hit(C1, 'm-b', 'second match')]);
    expect(results.map((r) => r.conversationId)).toEqual([C1, C2]);
    expect(results[0]).toMatchObject({ messageId: 'm-a', snippet: 'first match', titleMatched: true, messageMatches: 2 });
    expect(matchSummary(results[0]!)).toBe('title · 2 messages');
    expect(results[1]).toMatchObject({ messageId: 'm-c2', titleMatched: false, messageMatches: 1 });
    expect(matchSummary(results[1]!)).toBe('1 message');
  });

  it('a conversation found by its title only opens without a message, showing the title', () => {
    const [only] = groupHits([hit(C2, null, 'title of 2')]);
    expect(only).toMatchObject({ messageId: null, snippet: 'title of 2', titleMatched: true, messageMatches: 0 });
    expect(matchSummary(only!)).toBe('title');
  });
});

describe('the import summary', () => {
  it('counts what is new and what an earlier import already brought', () => {
    expect(importSummary(['a'], new Set(), 'x.json')).toBe('Imported 1 conversation from x.json.');
    expect(importSummary(['a', 'b', 'c'], new Set(['c']), 'x.json')).toBe('Imported 2 conversations from x.json. 1 conversation was already here.');
    expect(importSummary(['a', 'b'], new Set(['a', 'b']), 'x.json')).toBe('x.json was imported before: its 2 conversations are already here.');
    expect(importSummary(['a'], new Set(['a']), 'x.json')).toBe('x.json was imported before: its 1 conversation is already here.');
  });
});

describe('editing a sent message branches from its parent', () => {
  it("uses the server's parentId when there is one", () => {
    const list = [msg('u1', 'user', { parentId: null }), msg('a1', 'assistant', { parentId: 'u1' }), msg('u2', 'user', { parentId: 'a1' })];
    expect(parentOf(list, list[0]!)).toBeNull();
    expect(parentOf(list, list[2]!)).toBe('a1');
  });

  it('else the message shown before it; unknown while either is an unstored copy', () => {
    const stored = [msg('u1', 'user'), msg('a1', 'assistant'), msg('u2', 'user')];
    expect(parentOf(stored, stored[0]!)).toBeNull();
    expect(parentOf(stored, stored[2]!)).toBe('a1');
    const withCopies = [msg('acked-local-1', 'user'), msg('a1', 'assistant'), msg('u2', 'user')];
    expect(parentOf(withCopies, withCopies[0]!)).toBeUndefined();
    expect(parentOf([msg('local-1', 'user'), msg('u2', 'user')], msg('u2', 'user'))).toBeUndefined();
    expect(parentOf(stored, msg('elsewhere', 'user'))).toBeUndefined();
    expect(isLocalId('local-1') && isLocalId('acked-local-1') && !isLocalId('u1')).toBe(true);
  });

  it('a reload that still sees a reply streaming keeps the end this window already received', () => {
    const reply = msg('a1', 'assistant', { status: 'complete', content: 'the whole reply' });
    const state: ChatState = { ...initialChatState, activeId: C1, messages: [msg('u1', 'user'), reply] };
    const next = chatReducer(state, {
      type: 'opened',
      conversation: { id: C1, title: 't', createdAt: T0, updatedAt: T0, messages: [msg('u1', 'user'), { ...reply, status: 'streaming', content: '', siblings: { index: 1, count: 1, ids: ['a1'] } }] },
    });
    expect(next.messages[1]).toMatchObject({ status: 'complete', content: 'the whole reply', siblings: { index: 1, count: 1 } });
    expect(next.streams.a1).toBeUndefined();
  });
});

describe('a reply that ends', () => {
  it('asks for the stored conversation again when it is the open one, and only then', () => {
    const state: ChatState = { ...initialChatState, activeId: C1, messages: [msg('u1', 'user'), msg('a1', 'assistant', { status: 'streaming' })] };
    const ended = chatReducer(state, { type: 'done', event: { conversationId: C1, message: msg('a1', 'assistant') } });
    expect(ended.turnsEnded).toBe(1);
    const elsewhere = chatReducer(ended, { type: 'done', event: { conversationId: C2, message: { ...msg('a9', 'assistant'), conversationId: C2 } } });
    expect(elsewhere.turnsEnded).toBe(1);
  });
});

describe('a new conversation whose reply outruns the ack of its send', () => {
  it('keeps the tokens and the end that came first, and reads the stored turn once the ack names the conversation', () => {
    const reply = { ...msg('a1', 'assistant', { content: 'hello world' }), conversationId: C1 };
    let state = chatReducer(initialChatState, { type: 'send', localId: 'local-1', text: 'hi', now: T0 });
    state = chatReducer(state, { type: 'tokens', events: [{ conversationId: C1, messageId: 'a1', seq: 0, delta: 'hello ' }] });
    expect(state.streams.a1?.text).toBe('hello ');
    state = chatReducer(state, { type: 'done', event: { conversationId: C1, message: reply } });
    const before = state.turnsEnded ?? 0;
    state = chatReducer(state, { type: 'send-acked', localId: 'local-1', conversationId: C1, messageId: 'a1', now: T0 });
    expect(state.activeId).toBe(C1);
    expect(state.messages.map((m) => [m.role, m.status, m.content])).toEqual([
      ['user', 'complete', 'hi'],
      ['assistant', 'complete', 'hello world'],
    ]);
    expect(state.streams.a1).toBeUndefined();
    expect(state.turnsEnded).toBe(before + 1);
  });

  it('ignores replies of other conversations once one is open, and when nothing was sent', () => {
    const token = { conversationId: C2, messageId: 'x', seq: 0, delta: 'x' };
    expect(chatReducer(initialChatState, { type: 'token', event: token })).toBe(initialChatState);
    const open: ChatState = { ...initialChatState, activeId: C1, sending: true };
    expect(chatReducer(open, { type: 'token', event: token })).toBe(open);
  });
});

describe('settings typed back into their shape', () => {
  it('reads GET /api/settings: sources, locks, secrets either way', () => {
    const read = readSettings({
      settings: {
        llmBaseUrl: { value: 'http://x.test', source: 'flag', locked: true },
        llmApiKey: { value: { set: true }, source: 'stored', locked: false },
        redisUrl: { set: false, source: 'default', locked: false },
        corsOrigins: { value: ['http://a.test'], source: 'env' },
        junk: 'not an entry',
      },
    });
    expect(read).toEqual({
      llmBaseUrl: { value: 'http://x.test', source: 'flag', locked: true },
      llmApiKey: { value: { set: true }, source: 'stored', locked: false },
      redisUrl: { value: { set: false }, source: 'default', locked: false },
      corsOrigins: { value: ['http://a.test'], source: 'env', locked: true },
    });
  });

  it('keeps lists, numbers, flags and unset values in the shape the server sent', () => {
    expect(fromText('http://a.test, http://b.test,', ['x'])).toEqual(['http://a.test', 'http://b.test']);
    expect(fromText('42', 7)).toBe(42);
    expect(fromText('forty', 7)).toBe('forty');
    expect(fromText('true', false)).toBe(true);
    expect(fromText('', null)).toBeNull();
    expect(fromText('http://c.test', 'http://a.test')).toBe('http://c.test');
  });
});
