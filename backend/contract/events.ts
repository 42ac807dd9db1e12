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
}

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
  'conversation:join': (payload: { conversationId: string }, ack?: Ack<{ joined: string }>) => void;
  'conversation:leave': (payload: { conversationId: string }, ack?: Ack<{ left: string }>) => void;
  'metrics:subscribe': (ack?: Ack<{ subscribed: true }>) => void;
  'metrics:unsubscribe': (ack?: Ack<{ subscribed: false }>) => void;
}

export interface ServerToClientEvents {
  'chat:token': (event: TokenEvent) => void;
  'chat:done': (event: DoneEvent) => void;
  'chat:error': (event: ChatErrorEvent) => void;
  'conversation:updated': (event: ConversationUpdatedEvent) => void;
  'status:changed': (event: StatusChangedEvent) => void;
  'metrics:tick': (snapshot: MetricsSnapshot) => void;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no server-to-server events yet
export interface InterServerEvents {}
