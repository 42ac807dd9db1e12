import type { Message } from '../data/store.js';
import type { ReplyEvent } from '../realtime/events.js';
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
