import type {
  BranchFields,
  ChatErrorEvent,
  Conversation,
  ConversationUpdatedEvent,
  ConversationWithMessages,
  DoneEvent,
  Message,
  Problem,
  TokenEvent,
} from './contract.js';

/**
 * The chat screen's state as one pure reducer: the conversation list, the open conversation and
 * the replies streaming into it. Tokens are applied strictly in `seq` order (a late or repeated
 * one never scrambles a reply), and the final message from `chat:done` replaces the streamed text.
 */

export interface StreamBuffer {
  /** The seq expected next; null until the first token when we joined a reply midway. */
  next: number | null;
  text: string;
  /** Tokens that arrived ahead of a gap, by seq. */
  ahead: Record<number, string>;
  /** True when the reply started before we saw it, so `text` lacks its beginning. */
  partial: boolean;
  /**
   * Joined a reply in progress and waiting for the join ack's text so far: live tokens are held
   * in `ahead` until it comes, so the snapshot and the live stream meet with no gap or repeat.
   */
  awaitingSnapshot?: boolean;
}

export interface ChatProblem extends Problem {
  conversationId: string | null;
  messageId?: string;
}

export interface ChatState {
  conversations: Conversation[];
  conversationsLoaded: boolean;
  activeId: string | null;
  loading: boolean;
  messages: Message[];
  streams: Record<string, StreamBuffer>;
  /** A message was sent and its ack has not arrived yet. */
  sending: boolean;
  problem: ChatProblem | null;
  /** The open conversation whose join ack (with its replies in progress) has arrived. */
  snapshotOf?: string | null;
  /**
   * Counts replies of the open conversation that ended: each time, the window reads the stored
   * conversation again (ids, parents and versions of the turn it assembled while streaming).
   */
  turnsEnded?: number;
}

export type ChatAction =
  | { type: 'conversations-loaded'; items: Conversation[] }
  | { type: 'conversation-updated'; event: ConversationUpdatedEvent }
  | { type: 'conversation-saved'; conversation: Conversation }
  | { type: 'open'; id: string | null }
  | { type: 'opened'; conversation: ConversationWithMessages }
  | { type: 'open-failed'; id: string; problem: Problem }
  | { type: 'send'; localId: string; text: string; now: string }
  | { type: 'send-acked'; localId: string; conversationId: string; messageId: string; now: string }
  | { type: 'send-failed'; localId: string; problem: Problem }
  | { type: 'token'; event: TokenEvent }
  /** Tokens that arrived within one frame, applied in one render. */
  | { type: 'tokens'; events: TokenEvent[] }
  | { type: 'done'; event: DoneEvent }
  | { type: 'error'; event: ChatErrorEvent }
  | { type: 'problem'; problem: ChatProblem | null }
  /** The join ack's replies in progress: their text so far, and the seq it ends at. */
  | { type: 'resume'; conversationId: string; streaming: Array<{ messageId: string; seq: number; content: string }> | undefined }
  /** `message:created`: a stored user message or a new reply placeholder, from any viewer. */
  | { type: 'message-created'; conversationId: string; message: Message }
  /** A new branch replaces `messageId` and what follows it (edit, regenerate). */
  | { type: 'branch-from'; messageId: string }
  /** The live connection dropped: tokens after the reconnect wait for the next join ack. */
  | { type: 'disconnected' };

export const initialChatState: ChatState = {
  conversations: [],
  conversationsLoaded: false,
  activeId: null,
  loading: false,
  messages: [],
  streams: {},
  sending: false,
  problem: null,
};

export function emptyStream(next: number | null): StreamBuffer {
  return { next, text: '', ahead: {}, partial: false };
}

/** Applies held tokens from the lowest seq on (no snapshot came: an older server, or the reply ended). */
export function releaseHeld(buffer: StreamBuffer): StreamBuffer {
  const known = buffer.next !== null && buffer.text !== '';
  let out: StreamBuffer = known ? { next: buffer.next, text: buffer.text, ahead: {}, partial: buffer.partial } : { next: null, text: '', ahead: {}, partial: false };
  const seqs = Object.keys(buffer.ahead)
    .map(Number)
    .sort((a, b) => a - b);
  for (const seq of seqs) out = applyToken(out, seq, buffer.ahead[seq] ?? '');
  return out;
}

/** Adds one token to a stream in seq order; duplicates and already-applied seqs are ignored. */
export function applyToken(buffer: StreamBuffer, seq: number, delta: string): StreamBuffer {
  if (buffer.awaitingSnapshot === true) {
    return buffer.ahead[seq] !== undefined ? buffer : { ...buffer, ahead: { ...buffer.ahead, [seq]: delta } };
  }
  let { next, text, partial } = buffer;
  if (next === null) {
    partial = seq > 0;
    next = seq;
  }
  if (seq < next || buffer.ahead[seq] !== undefined) return buffer;
  const ahead = { ...buffer.ahead, [seq]: delta };
  while (ahead[next] !== undefined) {
    text += ahead[next];
    delete ahead[next];
    next++;
  }
  return { next, text, ahead, partial };
}

/**
 * Whether a reply event concerns this window. A new conversation's reply can start (even end)
 * before the ack of `chat:send` names the conversation: the socket is put in its room first. Until
 * that ack, with no conversation open, the window's own send is the only one it can be hearing.
 */
const concerns = (state: ChatState, conversationId: string): boolean => conversationId === state.activeId || (state.activeId === null && state.sending);

const byRecent = (a: Conversation, b: Conversation): number => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0);

function upsertConversation(list: Conversation[], conversation: Conversation): Conversation[] {
  const rest = list.filter((c) => c.id !== conversation.id);
  return [conversation, ...rest].sort(byRecent);
}

function upsertMessage(messages: Message[], message: Message): Message[] {
  const index = messages.findIndex((m) => m.id === message.id);
  if (index < 0) return [...messages, message];
  const copy = messages.slice();
  copy[index] = message;
  return copy;
}

function withoutStream(streams: Record<string, StreamBuffer>, id: string): Record<string, StreamBuffer> {
  if (streams[id] === undefined) return streams;
  const copy = { ...streams };
  delete copy[id];
  return copy;
}

function placeholder(id: string, conversationId: string, now: string): Message {
  return {
    id,
    conversationId,
    role: 'assistant',
    content: '',
    status: 'streaming',
    model: null,
    promptTokens: null,
    completionTokens: null,
    ttftMs: null,
    durationMs: null,
    validation: null,
    error: null,
    createdAt: now,
    updatedAt: now,
  };
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'conversations-loaded':
      return { ...state, conversations: [...action.items].sort(byRecent), conversationsLoaded: true };

    case 'conversation-saved':
      return { ...state, conversations: upsertConversation(state.conversations, action.conversation) };

    case 'conversation-updated': {
      const e = action.event;
      const existing = state.conversations.find((c) => c.id === e.conversationId);
      if (e.reason === 'deleted') {
        const conversations = state.conversations.filter((c) => c.id !== e.conversationId);
        if (state.activeId !== e.conversationId) return { ...state, conversations };
        return { ...state, conversations, activeId: null, messages: [], streams: {}, loading: false };
      }
      if (existing === undefined && e.title === undefined) return state; // the caller refetches the list
      const conversation: Conversation = existing
        ? { ...existing, title: e.title ?? existing.title, updatedAt: e.updatedAt > existing.updatedAt ? e.updatedAt : existing.updatedAt }
        : { id: e.conversationId, title: e.title ?? 'New conversation', createdAt: e.updatedAt, updatedAt: e.updatedAt };
      return { ...state, conversations: upsertConversation(state.conversations, conversation) };
    }

    case 'open':
      if (action.id === state.activeId && action.id !== null) return { ...state, loading: true, problem: null };
      return { ...state, activeId: action.id, messages: [], streams: {}, loading: action.id !== null, sending: false, problem: null, snapshotOf: null };

    case 'opened': {
      const c = action.conversation;
      if (c.id !== state.activeId) return state;
      const { messages: stored, ...conversation } = c;
      // A reply that ended here (chat:done) while the read was on its way stays ended.
      const messages = stored.map((m) => {
        const held = m.status === 'streaming' ? state.messages.find((x) => x.id === m.id) : undefined;
        return held !== undefined && held.status !== 'streaming' ? { ...m, ...held, siblings: m.siblings, parentId: m.parentId } : m;
      });
      // A reply still streaming keeps the text received so far; the stored row has none yet.
      const streams: Record<string, StreamBuffer> = {};
      for (const m of messages) {
        const s = state.streams[m.id];
        if (m.status === 'streaming') streams[m.id] = s ?? { ...emptyStream(null), awaitingSnapshot: state.snapshotOf !== c.id };
      }
      // Only messages still waiting for their ack are not in the stored conversation yet.
      const locals = state.messages.filter((m) => m.id.startsWith('local-'));
      return {
        ...state,
        loading: false,
        messages: [...messages, ...locals],
        streams,
        conversations: upsertConversation(state.conversations, conversation),
      };
    }

    case 'open-failed':
      if (action.id !== state.activeId) return state;
      return { ...state, loading: false, problem: { ...action.problem, conversationId: action.id } };

    case 'send': {
      const local: Message = {
        ...placeholder(action.localId, state.activeId ?? '', action.now),
        role: 'user',
        content: action.text,
        status: 'complete',
      };
      return { ...state, messages: [...state.messages, local], sending: true, problem: null };
    }

    case 'send-acked': {
      // The local copy may already be gone: `message:created` replaced it with the stored one.
      const local = state.messages.find((m) => m.id === action.localId);
      if (local === undefined && state.activeId !== action.conversationId) return { ...state, sending: false }; // the user moved on
      // Renamed so a later reload of the conversation (which has the stored copy) drops it.
      const messages = state.messages.map((m) =>
        m.id === action.localId ? { ...m, id: `acked-${action.localId}`, conversationId: action.conversationId } : m,
      );
      const reply = messages.find((m) => m.id === action.messageId);
      const ended = reply !== undefined && reply.status !== 'streaming';
      return {
        ...state,
        activeId: action.conversationId,
        sending: false,
        messages: reply !== undefined ? messages : [...messages, placeholder(action.messageId, action.conversationId, action.now)],
        streams: state.streams[action.messageId] || ended ? state.streams : { ...state.streams, [action.messageId]: emptyStream(0) },
        // The reply ended before this ack: read the stored turn now that the conversation is known.
        ...(ended ? { turnsEnded: (state.turnsEnded ?? 0) + 1 } : {}),
      };
    }

    case 'send-failed':
      return {
        ...state,
        sending: false,
        messages: state.messages.filter((m) => m.id !== action.localId),
        problem: { ...action.problem, conversationId: state.activeId },
      };

    case 'token': {
      const e = action.event;
      if (!concerns(state, e.conversationId)) return state;
      const buffer = applyToken(state.streams[e.messageId] ?? emptyStream(null), e.seq, e.delta);
      const known = state.messages.some((m) => m.id === e.messageId);
      return {
        ...state,
        streams: { ...state.streams, [e.messageId]: buffer },
        messages: known ? state.messages : [...state.messages, placeholder(e.messageId, e.conversationId, new Date().toISOString())],
      };
    }

    case 'tokens':
      return action.events.reduce((s, event) => chatReducer(s, { type: 'token', event }), state);

    case 'done': {
      const m = action.event.message;
      if (!concerns(state, m.conversationId)) return state;
      return { ...state, messages: upsertMessage(state.messages, m), streams: withoutStream(state.streams, m.id), turnsEnded: (state.turnsEnded ?? 0) + 1 };
    }

    case 'error': {
      const e = action.event;
      if (!concerns(state, e.conversationId)) return state;
      const current = state.messages.find((m) => m.id === e.messageId) ?? placeholder(e.messageId, e.conversationId, new Date().toISOString());
      const failed: Message = {
        ...current,
        status: 'error',
        content: state.streams[e.messageId]?.text ?? current.content,
        error: { code: e.code, message: e.message },
      };
      return {
        ...state,
        messages: upsertMessage(state.messages, failed),
        streams: withoutStream(state.streams, e.messageId),
        problem: { code: e.code, message: e.message, conversationId: e.conversationId, messageId: e.messageId },
      };
    }

    case 'problem':
      return { ...state, problem: action.problem };

    case 'resume': {
      if (action.conversationId !== state.activeId) return state;
      const streams = { ...state.streams };
      let messages = state.messages;
      const snapshots = action.streaming ?? [];
      for (const r of snapshots) {
        const current = streams[r.messageId];
        // The ack's text runs up to `seq`, unless what we hold already goes further; held or early
        // live tokens after it are applied on top.
        let buffer: StreamBuffer =
          current !== undefined && current.next !== null && !current.partial && current.next > r.seq + 1
            ? { next: current.next, text: current.text, ahead: {}, partial: false }
            : { next: r.seq + 1, text: r.content, ahead: {}, partial: false };
        for (const [seq, delta] of Object.entries(current?.ahead ?? {})) buffer = applyToken(buffer, Number(seq), delta);
        streams[r.messageId] = buffer;
        if (!messages.some((m) => m.id === r.messageId)) messages = [...messages, placeholder(r.messageId, action.conversationId, new Date().toISOString())];
      }
      // Replies the ack did not name (it predates snapshots, or they ended): use what came live.
      for (const [id, buffer] of Object.entries(streams)) {
        if (buffer.awaitingSnapshot === true && !snapshots.some((r) => r.messageId === id)) streams[id] = releaseHeld(buffer);
      }
      return { ...state, streams, messages, snapshotOf: action.conversationId };
    }

    case 'message-created': {
      const m = action.message;
      if (action.conversationId !== state.activeId) return state;
      if (state.messages.some((x) => x.id === m.id)) return state;
      if (m.role === 'user') {
        // Our own message, sent from this window: the stored copy replaces the local one.
        const mine = state.messages.findIndex((x) => isLocalId(x.id) && x.role === 'user' && x.content === m.content);
        if (mine >= 0) {
          const copy = state.messages.slice();
          copy[mine] = m;
          return { ...state, messages: copy };
        }
      }
      const streams = m.status === 'streaming' && state.streams[m.id] === undefined ? { ...state.streams, [m.id]: emptyStream(0) } : state.streams;
      return { ...state, messages: [...state.messages, m], streams };
    }

    case 'disconnected': {
      const streams: Record<string, StreamBuffer> = {};
      for (const [id, b] of Object.entries(state.streams)) streams[id] = { ...b, awaitingSnapshot: true };
      return { ...state, streams, snapshotOf: null };
    }

    case 'branch-from': {
      const at = state.messages.findIndex((m) => m.id === action.messageId);
      if (at < 0) return state;
      return { ...state, messages: state.messages.slice(0, at), problem: null };
    }
  }
}

/**
 * A reply of the open conversation that cannot move on by itself: live tokens wait in `ahead`
 * behind a seq that never came, or for a join ack's snapshot that has not come. Only a fresh
 * snapshot (the ack of another `conversation:join`) fills that, so the window asks for one when
 * this stays the same for a while. Null when every reply is applying its tokens; otherwise a key
 * that changes whenever the reply moves on (so a wait that makes progress is not a stall).
 */
export function stalledStream(state: Pick<ChatState, 'streams' | 'activeId'>): string | null {
  if (state.activeId === null) return null;
  for (const [id, b] of Object.entries(state.streams)) {
    const waiting = Object.keys(b.ahead).length;
    if (b.awaitingSnapshot === true || waiting > 0) return `${id}:${b.next ?? 'start'}:${b.awaitingSnapshot === true ? 'held' : 'gap'}`;
  }
  return null;
}

/** The text to show for a message: what has streamed so far, else the stored content. */
export function visibleContent(state: Pick<ChatState, 'streams'>, message: Message): string {
  return state.streams[message.id]?.text ?? message.content;
}

/** The reply the Stop button cancels: the newest assistant message still streaming. */
export function streamingMessageId(state: Pick<ChatState, 'messages'>): string | null {
  for (let i = state.messages.length - 1; i >= 0; i--) {
    const m = state.messages[i];
    if (m !== undefined && m.role === 'assistant' && m.status === 'streaming') return m.id;
  }
  return null;
}

/** A copy this window made of a message it sent, before (`local-`) or after (`acked-`) the ack. */
export const isLocalId = (id: string): boolean => id.startsWith('local-') || id.startsWith('acked-');

/**
 * The message an edited one follows, so the resend branches from there: the server's `parentId`,
 * else the message shown before it (the list is one branch, in order). Undefined when that is
 * not known yet (a copy that is not stored), so the edit cannot start a wrong branch.
 */
export function parentOf(messages: readonly (Message & BranchFields)[], message: Message & BranchFields): string | null | undefined {
  if (message.parentId !== undefined) return message.parentId;
  if (isLocalId(message.id)) return undefined;
  const at = messages.findIndex((m) => m.id === message.id);
  if (at < 0) return undefined;
  const before = messages[at - 1];
  if (before === undefined) return null;
  return isLocalId(before.id) ? undefined : before.id;
}

