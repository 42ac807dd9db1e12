import { cacheKey, type Cache } from '../cache/cache.js';
import { newId } from '../data/ids.js';
import type * as wire from '../contract/conversations.js';
import type { Conversation, Message, Mutation, Store } from '../data/store.js';
import { notFound } from '../errors.js';
import type { Broadcaster } from './broadcaster.js';
import { toWireConversation, toWireConversationWithMessages, toWirePage } from './wire.js';

const LIST_PREFIX = cacheKey('conversations', 'list', '');
const pageKey = (id: string): string => cacheKey('conversation', id);
const listKey = (limit: number, cursor: string | undefined): string => `${LIST_PREFIX}${limit}:${cursor ?? ''}`;

/**
 * Conversations as the routes and the chat service see them: reads go through the cache, every
 * write goes to the store and then invalidates the keys it touched (on every instance, when the
 * cache has a shared tier) and tells connected clients.
 */
export class ConversationService {
  constructor(
    private readonly store: Store,
    private readonly cache: Cache,
    private readonly broadcaster: Broadcaster,
  ) {}

  list(limit: number, cursor?: string): Promise<wire.Page<wire.Conversation>> {
    return this.cache.wrap(listKey(limit, cursor), async () => toWirePage(await this.store.listConversations({ limit, cursor }), toWireConversation));
  }

  async get(id: string): Promise<wire.ConversationWithMessages> {
    const found = await this.cache.wrap(pageKey(id), async () => {
      const stored = await this.store.getConversationWithMessages(id);
      return stored === undefined ? null : toWireConversationWithMessages(stored);
    });
    if (found === null) throw notFound('conversation', id);
    return found;
  }

  /** Uncached existence check for the write path. */
  async require(id: string): Promise<Conversation> {
    const found = await this.store.getConversation(id);
    if (!found) throw notFound('conversation', id);
    return found;
  }

  /** The prompt history: finished turns only (a cancelled or failed reply is left out). */
  async history(id: string): Promise<Array<{ role: Message['role']; content: string }>> {
    const messages = await this.store.listMessages(id);
    return messages
      .filter((m) => m.status === 'complete' || (m.role === 'assistant' && m.content.length > 0 && m.status !== 'streaming'))
      .map((m) => ({ role: m.role, content: m.content }));
  }

  newConversation(title: string, now: string): Conversation {
    return { id: newId(), title, createdAt: now, updatedAt: now };
  }

  async rename(id: string, title: string): Promise<wire.Conversation> {
    const current = await this.require(id);
    const updated: Conversation = { ...current, title, updatedAt: new Date().toISOString() };
    await this.write(id, [{ kind: 'conversation.upsert', row: updated }]);
    this.broadcaster.conversationUpdated({ conversationId: id, reason: 'renamed', title, updatedAt: updated.updatedAt });
    return toWireConversation(updated);
  }

  async remove(id: string): Promise<void> {
    await this.require(id);
    await this.write(id, [{ kind: 'conversation.delete', id }]);
    this.broadcaster.conversationUpdated({ conversationId: id, reason: 'deleted', updatedAt: new Date().toISOString() });
  }

  /** Applies mutations that touch one conversation and invalidates its cached views. */
  async write(conversationId: string, mutations: Mutation[]): Promise<void> {
    await this.store.apply(mutations);
    await this.invalidate(conversationId);
  }

  invalidate(conversationId: string): Promise<void> {
    return this.cache.invalidate([pageKey(conversationId)], [LIST_PREFIX]);
  }
}
