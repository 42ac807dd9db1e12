/** Table shapes shared by SQLite and PostgreSQL. Timestamps are ISO-8601 UTC strings. */
export type MessageRole = 'system' | 'user' | 'assistant';
export type MessageStatus = 'complete' | 'streaming' | 'cancelled' | 'error' | 'interrupted';

export interface ConversationsTable {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
  active_leaf_id: string | null;
  model: string | null;
  system_prompt: string | null;
  /** Where an imported conversation came from, so importing the same file again changes nothing. */
  source_key: string | null;
}

export interface MessagesTable {
  id: string;
  conversation_id: string;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  model: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  ttft_ms: number | null;
  duration_ms: number | null;
  /** JSON: the governance verdict for code in the reply. */
  validation: string | null;
  /** JSON: {code, message} when status is error. */
  error: string | null;
  created_at: string;
  updated_at: string;
  parent_id: string | null;
  /** JSON {seq, ends} while the reply streams; null once it is finished. */
  stream_progress: string | null;
}

export interface ValidationsTable {
  id: string;
  message_id: string | null;
  source: string;
  verdict: string;
  errors: number;
  warnings: number;
  notes: number;
  config_hash: string;
  duration_ms: number;
  /** JSON array of findings. */
  findings: string;
  created_at: string;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: string;
}

export interface SettingsTable {
  key: string;
  value: string;
  encrypted: number;
  updated_at: string;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  scope: 'user' | 'admin';
  token_hash: string;
  created_at: string;
  last_used_at: string | null;
}

export interface BrowserSessionsTable {
  id: string;
  label: string;
  scope: 'user' | 'admin';
  secret_hash: string;
  created_at: string;
  last_seen_at: string | null;
  address: string | null;
}

export interface PairingCodesTable {
  code_hash: string;
  scope: 'user' | 'admin';
  label: string | null;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface Database {
  api_tokens: ApiTokensTable;
  browser_sessions: BrowserSessionsTable;
  pairing_codes: PairingCodesTable;
  conversations: ConversationsTable;
  messages: MessagesTable;
  validations: ValidationsTable;
  schema_migrations: SchemaMigrationsTable;
  /** Only in DATA_DIR/settings.db (see settings-store.ts). */
  settings: SettingsTable;
}
