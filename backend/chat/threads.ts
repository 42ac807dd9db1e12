import { createHash } from 'node:crypto';
import { cacheKey, type Cache } from '../cache/cache.js';
import type { ChatTurn } from '../providers/types.js';
import type { ConversationService } from './conversations.js';

/** A client may come back to a chat days later; the cache's own bounds evict older threads first. */
const THREAD_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Finds the conversation a stateless client is continuing. OpenAI-style clients (Open WebUI,
 * most SDK scripts) send the whole history on every request and never name a conversation;
 * without this, each of their turns would start a new conversation holding every earlier turn
 * again. After each reply, the history as the client will send it next time (its turns plus the
 * reply) is remembered under a hash, per credential; a later request whose history up to its
 * last assistant turn hashes the same continues that conversation.
 */
export class ConversationThreads {
  constructor(
    private readonly cache: Cache,
    private readonly conversations: Pick<ConversationService, 'require'>,
    private readonly ttlSeconds = THREAD_TTL_SECONDS,
  ) {}

  /** The conversation whose stored history these turns continue, if one is known and still exists. */
  async find(credential: string, turns: ChatTurn[]): Promise<string | undefined> {
    const last = turns.findLastIndex((t) => t.role === 'assistant');
    if (last < 0) return undefined;
    const id = await this.cache.get<unknown>(threadKey(credential, turns.slice(0, last + 1)));
    if (typeof id !== 'string') return undefined;
    try {
      await this.conversations.require(id);
      return id;
    } catch {
      return undefined;
    }
  }

  /** Remembers that `turns` followed by `reply` is the history of `conversationId`. */
  async remember(credential: string, turns: ChatTurn[], reply: string, conversationId: string): Promise<void> {
    const key = threadKey(credential, [...turns, { role: 'assistant', content: reply }]);
    const known = await this.cache.get<unknown>(key);
    if (known === conversationId) return;
    // The same history in another conversation (two chats that began alike): the latest wins everywhere.
    if (known !== undefined) await this.cache.invalidate([key]);
    await this.cache.set(key, conversationId, this.ttlSeconds);
  }
}

function threadKey(credential: string, turns: ChatTurn[]): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([credential, turns.map((t) => [t.role, t.content])]))
    .digest('hex');
  return cacheKey('thread', digest);
}
