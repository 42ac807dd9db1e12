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

/*
 * The second part of the contract (branches, resumable replies, search, models, settings). The
 * backend types for these are being written; until they land here, the renderer describes the
 * wire shapes it reads and treats every new field as optional, so it also runs against a server
 * that does not send them yet.
 */

/** Position of a message among the messages that share its parent (1-based `index`). */
export interface Siblings {
  index: number;
  count: number;
  ids: string[];
}

export type BranchFields = { parentId?: string | null; siblings?: Siblings };

/** Conversation fields added by the second part (PATCH /api/conversations/:id). */
export interface ConversationOptions {
  model?: string | null;
  systemPrompt?: string | null;
  activeLeafId?: string | null;
}

/** The ack of `conversation:join`: replies still being generated, with their text up to `seq`. */
export interface JoinAck {
  joined: string;
  streaming?: Array<{ messageId: string; seq: number; content: string }>;
}

/** One hit of GET /api/search; `messageId` is null when the conversation's title matched. */
export type { SearchHit } from '../../../backend/contract/index.js';

export interface ModelList {
  provider: string;
  models: string[];
}

export type SettingSource = 'default' | 'file' | 'env' | 'flag' | 'stored';

/** One entry of GET /api/settings; a secret's value is `{set: boolean}`. */
export interface SettingEntry {
  value: unknown;
  source: SettingSource;
  locked?: boolean;
}
