/**
 * The backend contract as the renderer sees it: type-only re-exports of backend/contract, so the
 * bundle never pulls in server code and a change in a wire shape breaks this build. The renderer
 * imports nothing else of the backend (lint enforces it).
 */
export type {
  Ack,
  ChatErrorEvent,
  ClientToServerEvents,
  Conversation,
  ConversationUpdatedEvent,
  ConversationWithMessages,
  DoneEvent,
  ErrorBody,
  Message,
  MessageStatus,
  MetricsSnapshot,
  OverallStatus,
  Page,
  ServerToClientEvents,
  StatusBody,
  StatusChangedEvent,
  TokenEvent,
} from '../../../backend/contract/index.js';

/** The contract's error shape, `{error: {code, message, details}}`, as the UI keeps it. */
export interface Problem {
  code: string;
  message: string;
  details?: unknown;
}
