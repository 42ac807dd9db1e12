/**
 * The backend contract as the renderer sees it: type-only re-exports, so the bundle never pulls
 * in server code and a change in an event's shape breaks this build.
 */
export type {
  Ack,
  ChatErrorEvent,
  ClientToServerEvents,
  ConversationUpdatedEvent,
  DoneEvent,
  MetricsSnapshot,
  ServerToClientEvents,
  StatusChangedEvent,
  TokenEvent,
} from '../../../backend/realtime/events.js';
export type { Conversation, ConversationWithMessages, Message, Page } from '../../../backend/data/store.js';
export type { MessageStatus } from '../../../backend/data/schema.js';

export type OverallStatus = 'ok' | 'degraded' | 'down';

/** The parts of `GET /api/status` the UI shows (the full body has more). */
export interface StatusBody {
  status: OverallStatus;
  version: string;
  uptimeSeconds: number;
  components: {
    database: { backend: string; mode: string; breaker: string | null; pendingSync: number };
    provider: { id: string | null; baseUrl: string | null; source: 'configured' | 'probed' | 'none'; status: string; breaker: string | null };
    websocket: { clients: number };
  };
}

/** The contract's error shape, `{error: {code, message, details}}`, as the UI keeps it. */
export interface Problem {
  code: string;
  message: string;
  details?: unknown;
}
