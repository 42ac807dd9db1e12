import type { Message } from '../data/store.js';
import type { ReplyEvent } from '../contract/events.js';
import type { ConversationService } from './conversations.js';
import { PROGRESS_INTERVAL_MS, type ChatService, type ReplySnapshot } from './service.js';

/**
 * Replies outlive their viewers: a viewer who arrives mid-reply (a reload, a second browser, a
 * client of another instance) gets the text so far and then the live tokens, each exactly once.
 *
 * The text so far comes from the instance streaming the reply when that is this one (its memory),
 * and from the store otherwise: the streaming instance writes each reply's progress there every
 * PROGRESS_INTERVAL_MS. Live events reach every instance through the reply feed (relayed between
 * instances by the Socket.IO adapter). A viewer buffers live events from before it reads the
 * snapshot; the snapshot is accepted once it reaches the first buffered token, so nothing falls
 * in between, and buffered tokens the snapshot already covers are dropped.
 */

export type ReplyListener = (event: ReplyEvent) => void;

const conversationOf = (e: ReplyEvent): string => e.event.conversationId;
const messageOf = (e: ReplyEvent): string => (e.kind === 'done' ? e.event.message.id : e.event.messageId);

/** Where this instance's reply events (its own and those relayed from others) are handed out. */
export class ReplyFeed {
  private readonly byMessage = new Map<string, Set<ReplyListener>>();

  get size(): number {
    return this.byMessage.size;
  }

  publish(event: ReplyEvent): void {
    if (this.byMessage.size === 0) return;
    const listeners = this.byMessage.get(messageOf(event));
    if (listeners) for (const fn of [...listeners]) fn(event);
  }

  /** Listens to one reply's events; returns the function that stops listening. */
  onMessage(messageId: string, fn: ReplyListener): () => void {
    let set = this.byMessage.get(messageId);
    if (!set) {
      set = new Set();
      this.byMessage.set(messageId, set);
    }
    set.add(fn);
    return () => {
      const current = this.byMessage.get(messageId);
      current?.delete(fn);
      if (current?.size === 0) this.byMessage.delete(messageId);
    };
  }
}

export interface CatchUpOptions {
  /** With no live token seen, how long to wait before trusting the store's snapshot. */
  quietMs?: number;
  /** The longest a catch-up waits for the store to reach the live stream. */
  timeoutMs?: number;
  pollMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Events of `buffered` that a snapshot has not covered, in order. */
export function uncovered(buffered: readonly ReplyEvent[], snapshots: ReadonlyMap<string, number>): ReplyEvent[] {
  return buffered.filter((e) => e.kind !== 'token' || e.event.seq > (snapshots.get(e.event.messageId) ?? -1));
}

export class ReplyCatchUp {
  private readonly quietMs: number;
  private readonly timeoutMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly chat: () => ChatService,
    private readonly conversations: ConversationService,
    options: CatchUpOptions = {},
  ) {
    this.quietMs = options.quietMs ?? PROGRESS_INTERVAL_MS + 150;
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.pollMs = options.pollMs ?? 20;
  }

  /**
   * The replies streaming in a conversation, each with its text so far. Call it after starting to
   * buffer the conversation's live events; `buffered` returns them. With the returned seqs,
   * `uncovered(buffered)` is exactly what the viewer still needs.
   */
  async conversation(conversationId: string, buffered: () => readonly ReplyEvent[]): Promise<ReplySnapshot[]> {
    const chat = this.chat();
    const stored = await this.settle(async () => {
      const all = await this.conversations.messages(conversationId);
      return all.filter((m) => m.status === 'streaming' && !chat.isActive(m.id));
    }, buffered);
    // Taken last and synchronously: every event after this moment is in the buffer.
    return [...chat.streamingIn(conversationId), ...stored.map(fromStore)];
  }

  /**
   * One reply: its snapshot while it streams, or the stored message once it is finished.
   * Undefined when no such message exists.
   */
  async message(messageId: string, buffered: () => readonly ReplyEvent[]): Promise<{ snapshot: ReplySnapshot } | { finished: Message } | undefined> {
    const chat = this.chat();
    const local = chat.snapshot(messageId);
    if (local) return { snapshot: local };
    let finished: Message | undefined;
    let exists = false;
    const stored = await this.settle(async () => {
      const m = await this.conversations.message(messageId);
      exists = m !== undefined;
      finished = m && m.status !== 'streaming' ? m : undefined;
      return m && m.status === 'streaming' && !chat.isActive(m.id) ? [m] : [];
    }, buffered);
    const again = chat.snapshot(messageId);
    if (again) return { snapshot: again };
    const streaming = stored[0];
    if (streaming) return { snapshot: fromStore(streaming) };
    if (finished) return { finished };
    return exists ? { finished: (await this.conversations.message(messageId)) as Message } : undefined;
  }

  /** Re-reads the stored streaming replies until each one reaches the live events buffered. */
  private async settle(read: () => Promise<Message[]>, buffered: () => readonly ReplyEvent[]): Promise<Message[]> {
    const started = performance.now();
    for (;;) {
      const stored = await read();
      if (stored.length === 0) return stored;
      const elapsed = performance.now() - started;
      const events = buffered();
      const ready = stored.every((m) => {
        const seq = m.progress?.seq ?? -1;
        let first: number | undefined;
        for (const e of events) {
          if (messageOf(e) !== m.id) continue;
          if (e.kind !== 'token') return true;
          if (first === undefined) first = e.event.seq;
        }
        return first === undefined ? elapsed >= this.quietMs : first <= seq + 1;
      });
      if (ready || elapsed >= this.timeoutMs) return stored;
      await sleep(this.pollMs);
    }
  }
}

function fromStore(m: Message): ReplySnapshot {
  const seq = m.progress?.seq ?? -1;
  const ends = m.progress?.ends ?? [];
  return { conversationId: m.conversationId, messageId: m.id, seq, content: seq < 0 ? '' : m.content.slice(0, ends[seq] ?? m.content.length), ends };
}

export { conversationOf, messageOf };

interface RelayState {
  last: number | undefined;
  /** Set while a gap is being filled: events that arrived meanwhile, in order. */
  queue: ReplyEvent[] | undefined;
}

/**
 * Redis pub/sub delivers at most once: a publish made while a connection is being re-established
 * is lost. Reply events relayed from other instances are checked for gaps in their seq; a gap is
 * filled from the progress the streaming instance stores (each token's text is recoverable from
 * the stored token boundaries) before later events are handed on. Duplicates are dropped.
 */
export class RelayRepair {
  private readonly states = new Map<string, RelayState>();
  private closed = false;

  constructor(
    private readonly deliver: (e: ReplyEvent) => void,
    private readonly read: (messageId: string) => Promise<Message | undefined>,
    private readonly log: { warn(obj: object, msg: string): void },
    private readonly options: { timeoutMs?: number; pollMs?: number } = {},
  ) {}

  accept(e: ReplyEvent): void {
    const id = messageOf(e);
    let state = this.states.get(id);
    if (!state) {
      state = { last: undefined, queue: undefined };
      this.states.set(id, state);
    }
    if (state.queue) {
      state.queue.push(e);
      return;
    }
    this.pass(id, state, e);
  }

  private pass(id: string, state: RelayState, e: ReplyEvent): void {
    if (e.kind !== 'token') {
      this.states.delete(id);
      this.deliver(e);
      return;
    }
    const seq = e.event.seq;
    if (state.last !== undefined && seq <= state.last) return;
    if (state.last !== undefined && seq > state.last + 1) {
      state.queue = [e];
      void this.fill(id, state, e.event.conversationId);
      return;
    }
    state.last = seq;
    this.deliver(e);
  }

  private async fill(id: string, state: RelayState, conversationId: string): Promise<void> {
    const deadline = performance.now() + (this.options.timeoutMs ?? 3000);
    const from = (state.last ?? -1) + 1;
    const first = state.queue?.[0];
    const upTo = (first?.kind === 'token' ? first.event.seq : from) - 1;
    let filled = false;
    while (!this.closed && performance.now() < deadline) {
      let m: Message | undefined;
      try {
        m = await this.read(id);
      } catch {
        m = undefined;
      }
      if (m && m.status !== 'streaming') break;
      const progress = m?.progress;
      if (m && progress && progress.seq >= upTo) {
        for (let seq = from; seq <= upTo; seq++) {
          const start = seq === 0 ? 0 : (progress.ends[seq - 1] ?? 0);
          const end = progress.ends[seq] ?? start;
          this.deliver({ kind: 'token', event: { conversationId, messageId: id, seq, delta: m.content.slice(start, end) } });
        }
        state.last = upTo;
        filled = true;
        break;
      }
      await sleep(this.options.pollMs ?? 25);
    }
    if (!filled) this.log.warn({ messageId: id, from, upTo }, 'relayed reply events were lost and could not be recovered from the store');
    const queued = state.queue ?? [];
    state.queue = undefined;
    // Without the missing part, carry on from what arrived (the final message still has it all).
    if (!filled) state.last = upTo;
    for (let i = 0; i < queued.length; i++) {
      const e = queued[i];
      if (!e) continue;
      // A new gap found while replaying: the rest waits behind it.
      const again = state.queue as ReplyEvent[] | undefined;
      if (again) {
        again.push(...queued.slice(i));
        return;
      }
      this.pass(id, state, e);
    }
  }

  close(): void {
    this.closed = true;
    this.states.clear();
  }
}
