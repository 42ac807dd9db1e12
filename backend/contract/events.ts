import type { Message } from './conversations.js';
import type { MetricsSnapshot } from './metrics.js';
import type { OverallStatus } from './status.js';

/**
 * The Socket.IO contract as types. The server, the renderer and the tests all import these maps,
 * so a change in an event's shape breaks the build rather than a user.
 */
export interface ChatSendPayload {
  conversationId?: string;
  message: string;
  model?: string;
  cache?: boolean;
  /** Absent: continue from the active leaf; a message id: branch after it; null: new root branch. */
  parentId?: string | null;
}

/** A reply still streaming when a viewer joins: its text up to and including `seq`. */
export interface StreamingSnapshot {
  messageId: string;
  seq: number;
  content: string;
}

export interface JoinAck {
  joined: string;
  streaming: StreamingSnapshot[];
}

export interface MessageCreatedEvent {
  conversationId: string;
  message: Message;
}

/** Reply events as they travel between instances, so each can hand them to its own viewers. */
export type ReplyEvent =
  | { kind: 'token'; event: TokenEvent }
  | { kind: 'done'; event: DoneEvent }
  | { kind: 'error'; event: ChatErrorEvent };

export type Ack<T> = (result: T | { error: { code: string; message: string; details?: unknown } }) => void;

export interface TokenEvent {
  conversationId: string;
  messageId: string;
  seq: number;
  delta: string;
}

export interface DoneEvent {
  conversationId: string;
  message: Message;
}

export interface ChatErrorEvent {
  conversationId: string;
  messageId: string;
  code: string;
  message: string;
}

export interface ConversationUpdatedEvent {
  conversationId: string;
  reason: 'created' | 'message' | 'renamed' | 'deleted';
  title?: string;
  updatedAt: string;
}

export interface StatusChangedEvent {
  status: OverallStatus;
  component: string;
  detail: string;
  at: string;
}

export interface ClientToServerEvents {
  'chat:send': (payload: ChatSendPayload, ack?: Ack<{ conversationId: string; messageId: string }>) => void;
  'chat:cancel': (payload: { messageId: string }, ack?: Ack<{ cancelled: boolean }>) => void;
  'conversation:join': (payload: { conversationId: string }, ack?: Ack<JoinAck>) => void;
  'conversation:leave': (payload: { conversationId: string }, ack?: Ack<{ left: string }>) => void;
  'metrics:subscribe': (ack?: Ack<{ subscribed: true }>) => void;
  'metrics:unsubscribe': (ack?: Ack<{ subscribed: false }>) => void;
}

export interface ServerToClientEvents {
  'chat:token': (event: TokenEvent) => void;
  'chat:done': (event: DoneEvent) => void;
  'chat:error': (event: ChatErrorEvent) => void;
  'message:created': (event: MessageCreatedEvent) => void;
  'conversation:updated': (event: ConversationUpdatedEvent) => void;
  'status:changed': (event: StatusChangedEvent) => void;
  'metrics:tick': (snapshot: MetricsSnapshot) => void;
}

export interface InterServerEvents {
  /** Token, done and error of a reply streamed by the sending instance. */
  'reply:event': (event: ReplyEvent) => void;
}
