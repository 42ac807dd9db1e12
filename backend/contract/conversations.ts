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
}

export interface Conversation {
  id: string;
  title: string;
  createdAt: string;
  updatedAt: string;
}

/** `GET /api/conversations/:id`. */
export interface ConversationWithMessages extends Conversation {
  messages: Message[];
}

/** A page of a list; pass `nextCursor` back as `cursor` for the next one. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
