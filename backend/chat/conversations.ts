import { cacheKey, type Cache } from '../cache/cache.js';
import { newId } from '../data/ids.js';
import type * as wire from '../contract/conversations.js';
import type { Conversation, ConversationField, Message, Mutation, SearchHit, Store } from '../data/store.js';
import { invalid, notFound } from '../errors.js';
import { activeBranch, activeLeaf, pathTo, promptOf } from './branches.js';
import type { Broadcaster } from './broadcaster.js';
import { toWireConversation, toWireConversationWithMessages, toWirePage } from './wire.js';

/** What PATCH /api/conversations/:id may change; null clears model or system prompt. */
export interface ConversationPatch {
  title?: string | undefined;
  activeLeafId?: string | undefined;
  model?: string | null | undefined;
  systemPrompt?: string | null | undefined;
}

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
    // The page shows the active branch, each message with its siblings.
    const found = await this.cache.wrap(pageKey(id), async () => {
      const all = await this.store.getConversationWithMessages(id);
      if (!all) return null;
      return toWireConversationWithMessages({ ...all, messages: activeBranch(all.messages, all.activeLeafId) });
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

  /** The prompt history of the active branch: finished turns only. */
  async history(id: string): Promise<Array<{ role: Message['role']; content: string }>> {
    const [conversation, messages] = await Promise.all([this.store.getConversation(id), this.store.listMessages(id)]);
    return promptOf(pathTo(messages, activeLeaf(messages, conversation?.activeLeafId)));
  }

  /** Every message of a conversation (all branches), uncached, for the write path. */
  messages(id: string): Promise<Message[]> {
    return this.store.listMessages(id);
  }

  message(id: string): Promise<Message | undefined> {
    return this.store.getMessage(id);
  }

  findBySource(sourceKey: string): Promise<Conversation | undefined> {
    return this.store.findConversationBySource(sourceKey);
  }

  /** Tells clients about a conversation written in one piece (an import). */
  announce(c: Conversation): void {
    this.broadcaster.conversationUpdated({ conversationId: c.id, reason: 'created', title: c.title, updatedAt: c.updatedAt });
  }

  search(q: string, limit: number): Promise<SearchHit[]> {
    return this.store.search(q, limit);
  }

  newConversation(title: string, now: string): Conversation {
    return { id: newId(), title, createdAt: now, updatedAt: now, activeLeafId: null, model: null, systemPrompt: null, sourceKey: null };
  }

  async update(id: string, patch: ConversationPatch): Promise<wire.Conversation> {
    const current = await this.require(id);
    const updated: Conversation = { ...current, updatedAt: new Date().toISOString() };
    const fields: ConversationField[] = [];
    if (patch.title !== undefined) {
      updated.title = patch.title;
      fields.push('title');
    }
    if (patch.model !== undefined) {
      updated.model = patch.model;
      fields.push('model');
    }
    if (patch.systemPrompt !== undefined) {
      updated.systemPrompt = patch.systemPrompt;
      fields.push('systemPrompt');
    }
    if (patch.activeLeafId !== undefined) {
      fields.push('activeLeafId');
      const messages = await this.store.listMessages(id);
      if (!messages.some((m) => m.id === patch.activeLeafId)) {
        throw invalid(`activeLeafId: message ${patch.activeLeafId} is not in this conversation`, { field: 'activeLeafId' });
      }
      updated.activeLeafId = activeLeaf(messages, patch.activeLeafId);
    }
    await this.write(id, [{ kind: 'conversation.upsert', row: updated, fields }]);
    this.broadcaster.conversationUpdated({
      conversationId: id,
      reason: patch.title !== undefined ? 'renamed' : 'message',
      title: updated.title,
      updatedAt: updated.updatedAt,
    });
    return toWireConversation(updated);
  }

  async rename(id: string, title: string): Promise<wire.Conversation> {
    const current = await this.require(id);
    const updated: Conversation = { ...current, title, updatedAt: new Date().toISOString() };
    await this.write(id, [{ kind: 'conversation.upsert', row: updated, fields: ['title'] }]);
    this.broadcaster.conversationUpdated({ conversationId: id, reason: 'renamed', title, updatedAt: updated.updatedAt });
    return toWireConversation(updated);
  }

  async remove(id: string): Promise<void> {
    await this.require(id);
    await this.write(id, [{ kind: 'conversation.delete', id }]);
    this.broadcaster.conversationUpdated({ conversationId: id, reason: 'deleted', updatedAt: new Date().toISOString() });
  }

  /** Applies mutations that touch one conversation and invalidates its cached views. */
  async write(conversationId: string, mutations: Mutation[], options: { listChanged?: boolean } = {}): Promise<void> {
    await this.store.apply(mutations);
    await this.invalidate(conversationId, options);
  }

  /**
   * Drops the cached views of a conversation. `listChanged: false` keeps the cached conversation
   * lists: a streaming reply's progress changes its page, not any list, and it is written every
   * few hundred milliseconds while the reply lasts.
   */
  invalidate(conversationId: string, { listChanged = true }: { listChanged?: boolean } = {}): Promise<void> {
    return this.cache.invalidate([pageKey(conversationId)], listChanged ? [LIST_PREFIX] : []);
  }
}
