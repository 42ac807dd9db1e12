/**
 * Conversations and messages as they travel over HTTP and Socket.IO. These are the wire shapes,
 * written out on purpose rather than derived from the tables: the store maps its rows to them, so
 * a new column stays private until someone decides it belongs on the wire.
 */
export type MessageRole = 'system' | 'user' | 'assistant';
export type MessageStatus = 'complete' | 'streaming' | 'cancelled' | 'error' | 'interrupted';

/** Why a reply failed, when its status is `error`. */
export interface MessageError {
  code: string;
  message: string;
}

export interface Message {
  id: string;
  conversationId: string;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  ttftMs: number | null;
  durationMs: number | null;
  /**
   * The governance verdict for code in the reply (a `ValidationResult`), or null. Typed `unknown`
   * because a reply stored by an older or newer server may carry another shape; readers check it.
   */
  validation: unknown;
  error: MessageError | null;
  /** ISO-8601 UTC. */
  createdAt: string;
  updatedAt: string;
  /** The message this one answers or follows; null for the first of a branch (the server always sends it). */
  parentId?: string | null;
}

/** Where a message stands among those that share its parent (`index` is 1-based). */
export interface Siblings {
  index: number;
  count: number;
  ids: string[];
}

/** A message of the active branch, as `GET /api/conversations/:id` returns it. */
export interface BranchMessage extends Message {
  siblings: Siblings;
}

export interface Conversation {
  id: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  // The server always sends the three below; they are optional for clients built before branches.
  /** The leaf of the branch the conversation shows; null while it has no message. */
  activeLeafId?: string | null;
  /** Used on every turn unless the request names another; null: the provider's default. */
  model?: string | null;
  /** Sent to the provider first, as `role: "system"`; null: none. */
  systemPrompt?: string | null;
}

/** `GET /api/conversations/:id`: the messages of the active branch, in order. */
export interface ConversationWithMessages extends Conversation {
  /** Each with its `siblings` (the server always sends them). */
  messages: Array<Message & { siblings?: Siblings }>;
}

/** One result of `GET /api/search` (`messageId` is null when the conversation's title matched). */
export interface SearchHit {
  conversationId: string;
  messageId: string | null;
  title: string;
  snippet: string;
  createdAt: string;
}

/** A page of a list; pass `nextCursor` back as `cursor` for the next one. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
