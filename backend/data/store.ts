import type { CredentialStore } from './credentials.js';
import type { MessageRole, MessageStatus } from './schema.js';

/**
 * The store interface every service talks to. Nothing above it knows which database is behind it.
 * Writes are whole-row upserts keyed by app-generated ids, so any write can be replayed (to a
 * replica, after a crash) without creating a duplicate.
 */
export interface Conversation {
  id: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  /** The leaf of the branch the conversation shows; null while it has no message. */
  activeLeafId?: string | null;
  /** Used on every turn unless the request names another. */
  model?: string | null;
  /** Sent to the provider first, as `role: "system"`. */
  systemPrompt?: string | null;
  /** Imported conversations: their source, so a second import of the same file is a no-op. */
  sourceKey?: string | null;
}

/** How far a streaming reply got: the seq of its last token and where each token ends in `content`. */
export interface StreamProgress {
  seq: number;
  ends: number[];
}

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
  validation: unknown;
  error: MessageError | null;
  createdAt: string;
  updatedAt: string;
  /** The message this one answers or follows; null for the first of a branch. */
  parentId?: string | null;
  /** Only while streaming: what `content` covers, so any instance can resume the reply. */
  progress?: StreamProgress;
}

/** A message as GET /api/conversations/:id shows it on the active branch. */
export interface BranchMessage extends Message {
  siblings: { index: number; count: number; ids: string[] };
}

export interface ValidationRecord {
  id: string;
  messageId: string | null;
  source: 'api' | 'chat' | 'cli';
  verdict: 'pass' | 'fail' | 'error';
  errors: number;
  warnings: number;
  notes: number;
  configHash: string;
  durationMs: number;
  findings: unknown[];
  createdAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ListOptions {
  limit: number;
  cursor?: string | undefined;
}

export interface ConversationWithMessages extends Conversation {
  messages: Message[];
}

/** One search result: a message (or, with messageId null, a conversation whose title matched). */
export interface SearchHit {
  conversationId: string;
  messageId: string | null;
  title: string;
  snippet: string;
  createdAt: string;
}

/** The fields of a conversation that change after it is created, each merged on its own across instances. */
export type ConversationField = 'title' | 'activeLeafId' | 'model' | 'systemPrompt';

/** One atomic unit of change: everything in it commits together or not at all. */
export type Mutation =
  | {
      kind: 'conversation.upsert';
      row: Conversation;
      /**
       * The fields this write set, stamped with `row.updatedAt`. Absent: every field (a new or
       * imported conversation). Two instances that change different fields of one conversation
       * both keep their change in PostgreSQL, and of two changes to one field the later one wins,
       * whichever instance pushes last.
       */
      fields?: ConversationField[];
    }
  | { kind: 'conversation.delete'; id: string }
  | { kind: 'message.upsert'; row: Message }
  | { kind: 'validation.insert'; row: ValidationRecord };

export interface StoreHealth {
  backend: 'sqlite' | 'postgres';
  mode: 'primary' | 'fallback';
  breaker: 'closed' | 'open' | 'halfOpen' | null;
  pendingSync: number;
}

/** Replication state of PostgreSQL mode, for the breakers endpoint and the monitor. */
export interface SyncStatus {
  /** The PostgreSQL URL, password masked. */
  target: string;
  /** Migrated and identified; reads may go to PostgreSQL. */
  ready: boolean;
  pendingSync: number;
  /** Age of the oldest write waiting in the outbox. */
  oldestPendingSeconds: number | null;
  /** Writes PostgreSQL refused for their data, kept in the local outbox_dead table. */
  deadLetters: number;
  pushedRows: number;
  pulledRows: number;
  /** Writes PostgreSQL dropped because their conversation was deleted elsewhere. */
  droppedRows: number;
  /** Reads served from SQLite because PostgreSQL failed or was too slow. */
  readFallbacks: number;
  lastPushAt: string | null;
  lastPullAt: string | null;
  lastError: string | null;
}

export interface Store {
  readonly backend: 'sqlite' | 'postgres';
  /** Named tokens, browser sessions and pairing codes (the access concern's tables). */
  readonly credentials: CredentialStore;
  /** Applies the mutations in one transaction. */
  apply(mutations: Mutation[]): Promise<void>;
  getConversation(id: string): Promise<Conversation | undefined>;
  getConversationWithMessages(id: string): Promise<ConversationWithMessages | undefined>;
  listConversations(options: ListOptions): Promise<Page<Conversation>>;
  /** The conversation imported from `sourceKey`, if any (import idempotency). */
  findConversationBySource(sourceKey: string): Promise<Conversation | undefined>;
  /** One message by id, whatever its conversation. */
  getMessage(id: string): Promise<Message | undefined>;
  /** Messages of a conversation in creation order; the chat service builds the prompt from it. */
  listMessages(conversationId: string): Promise<Message[]>;
  /** Ranked full-text search over message text and conversation titles; any text is safe. */
  search(q: string, limit: number): Promise<SearchHit[]>;
  /** Marks messages left `streaming` by a crash as `interrupted`; returns how many. */
  markInterrupted(): Promise<number>;
  health(): StoreHealth;
  /** Throws when the store cannot serve requests (readiness). */
  ping(): Promise<void>;
  /** PostgreSQL mode only: replication state. */
  sync?(): SyncStatus;
  /**
   * Switches to another DATABASE_URL without losing writes. The PostgreSQL store alone moves
   * between PostgreSQL URLs (keeping the outbox); the server's SwitchableStore also moves between
   * SQLite and PostgreSQL. Throws a ConfigError for a URL it cannot switch to.
   */
  reconfigure?(databaseUrl: string): Promise<void>;
  close(): Promise<void>;
}

/** A message with every optional column empty; the caller names what it knows. */
export function newMessage(fields: Pick<Message, 'id' | 'conversationId' | 'role' | 'content' | 'status'> & Partial<Message>): Message {
  const now = fields.createdAt ?? new Date().toISOString();
  return {
    model: null,
    promptTokens: null,
    completionTokens: null,
    ttftMs: null,
    durationMs: null,
    validation: null,
    error: null,
    createdAt: now,
    updatedAt: now,
    ...fields,
  };
}
