import type * as wire from '../contract/conversations.js';
import type { BranchMessage, Conversation, Message, Page } from '../data/store.js';

/**
 * Store records to wire shapes, field by field. Today they coincide; spelling the copy out keeps
 * a column added to a table off the wire (and out of the renderer) until it is added here.
 */
export function toWireMessage(m: Message): wire.Message {
  return {
    id: m.id,
    conversationId: m.conversationId,
    role: m.role,
    content: m.content,
    status: m.status,
    model: m.model,
    promptTokens: m.promptTokens,
    completionTokens: m.completionTokens,
    ttftMs: m.ttftMs,
    durationMs: m.durationMs,
    validation: m.validation,
    error: m.error === null ? null : { code: m.error.code, message: m.error.message },
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
    parentId: m.parentId ?? null,
  };
}

export function toWireBranchMessage(m: BranchMessage): wire.BranchMessage {
  return { ...toWireMessage(m), siblings: { index: m.siblings.index, count: m.siblings.count, ids: [...m.siblings.ids] } };
}

export function toWireConversation(c: Conversation): wire.Conversation {
  return {
    id: c.id,
    title: c.title,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    activeLeafId: c.activeLeafId ?? null,
    model: c.model ?? null,
    systemPrompt: c.systemPrompt ?? null,
  };
}

/** A conversation with the messages of its active branch, each with its siblings. */
export function toWireConversationWithMessages(c: Conversation & { messages: BranchMessage[] }): wire.ConversationWithMessages {
  return { ...toWireConversation(c), messages: c.messages.map(toWireBranchMessage) };
}

export function toWirePage<T, W>(page: Page<T>, map: (item: T) => W): wire.Page<W> {
  return { items: page.items.map(map), nextCursor: page.nextCursor };
}
