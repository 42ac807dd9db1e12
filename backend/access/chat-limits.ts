import { DomainError } from '../errors.js';
import type { Principal } from './principal.js';

export interface ChatLimitsOptions {
  /** MAX_CONCURRENT_CHATS: replies being generated at once on this instance. */
  total: number;
  /** MAX_CONCURRENT_CHATS_PER_CLIENT: replies at once per credential; the owner token is exempt. */
  perClient: number;
}

/** Releases a slot; calling it more than once releases it once. */
export type ChatSlot = () => void;

/**
 * Bounds the replies generated at once, on the instance and per credential, so no client (and no
 * crowd of them) can make the server hold unbounded provider streams and memory. Every entry to
 * the chat pipeline (`POST /api/chat`, Socket.IO `chat:send`, the /v1 gateway) takes a slot
 * before it starts a turn and releases it when the turn's `done` settles:
 *
 *   const release = limits.acquire(principal);      // throws DomainError too-many-chats (HTTP 429)
 *   try { const turn = await chat.start(...); void turn.done.finally(release); }
 *   catch (err) { release(); throw err; }
 */
export class ChatLimits {
  private active = 0;
  private readonly perClient = new Map<string, number>();

  constructor(private readonly options: ChatLimitsOptions) {}

  get inFlight(): number {
    return this.active;
  }

  acquire(principal: Principal | undefined): ChatSlot {
    if (this.active >= this.options.total) {
      throw tooManyChats(`this server is generating ${this.active} replies already (MAX_CONCURRENT_CHATS); retry shortly`);
    }
    const key = principal === undefined || principal.kind === 'owner' ? undefined : principal.id;
    if (key !== undefined) {
      const mine = this.perClient.get(key) ?? 0;
      if (mine >= this.options.perClient) {
        throw tooManyChats(`this credential has ${mine} replies being generated already (MAX_CONCURRENT_CHATS_PER_CLIENT); wait for one to finish`);
      }
      this.perClient.set(key, mine + 1);
    }
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      if (key !== undefined) {
        const left = (this.perClient.get(key) ?? 1) - 1;
        if (left <= 0) this.perClient.delete(key);
        else this.perClient.set(key, left);
      }
    };
  }
}

function tooManyChats(message: string): DomainError {
  return new DomainError('too-many', 'too-many-chats', message, { retryAfterSeconds: 1 });
}
