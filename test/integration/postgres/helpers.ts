import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { BreakerRegistry } from '../../../backend/breaker/breaker.js';
import { loadConfig } from '../../../backend/config/load.js';
import type { Config } from '../../../backend/config/schema.js';
import { openStore } from '../../../backend/data/open.js';
import { openPostgres, preparePostgres } from '../../../backend/data/postgres.js';
import type { ReplicatedStore } from '../../../backend/data/replicated-store.js';
import type { RemoteDatabase } from '../../../backend/data/sync-schema.js';
import { startServer, type RunningServer } from '../../../backend/server.js';
import type { PrivatePostgres } from '../../fixtures/services/postgres.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';

/**
 * Small timeouts so faults are noticed within a test's time budget. Connecting gets more: a new
 * PostgreSQL session (fork plus SCRAM) can take a few hundred ms on a busy 2-core machine, and a
 * healthy server must not look like an outage.
 */
export const FAST = {
  circuitBreakerThreshold: 3,
  circuitBreakerResetMs: 500,
  dbQueryTimeoutMs: 400,
  dbConnectTimeoutMs: 1000,
  dbPullIntervalMs: 300,
} as const;

export const silent = pino({ level: 'silent' });

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function testConfig(overrides: Partial<Record<keyof Config, unknown>>): Config {
  return loadConfig({
    env: {},
    cwd: tmpdir(),
    overrides: { apiPort: 0, logToFile: false, logLevel: 'silent', ...FAST, ...overrides },
  }).config;
}

export interface OpenedStore {
  store: ReplicatedStore;
  breakers: BreakerRegistry;
  close(): Promise<void>;
}

export async function openReplicated(
  databaseUrl: string,
  dataDir: string,
  tuning: { batchSize?: number; retryDelayMs?: number } = {},
  overrides: Partial<Record<keyof Config, unknown>> = {},
): Promise<OpenedStore> {
  const breakers = new BreakerRegistry();
  const store = (await openStore(testConfig({ databaseUrl, dataDir, ...overrides }), {
    observe: () => () => {},
    breakers,
    logger: silent,
    tuning,
  })) as ReplicatedStore;
  return {
    store,
    breakers,
    close: async () => {
      await store.close();
      breakers.shutdown();
    },
  };
}

/** A migrated database of the private PostgreSQL, seen as the replicator writes it. */
export async function openRemote(pg: PrivatePostgres, database: string) {
  const target = openPostgres({ url: pg.url(database), connectTimeoutMs: 2000, queryTimeoutMs: 2000, logger: silent });
  await preparePostgres(target.db);
  return { db: target.db as unknown as Kysely<RemoteDatabase>, target, close: () => target.close() };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns a truthy value; the last error or value is in the failure message. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = PATIENCE_MS, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await sleep(everyMs);
  }
}

export interface ChatResult {
  conversationId: string;
  userContent: string;
  assistantId: string;
  assistantContent: string;
  status: string;
  ms: number;
  /** Date.now() when the request was sent. */
  at: number;
}

export interface ChatFailure {
  message: string;
  error: string;
}

export interface ApiClient {
  url: string;
  token: string;
}

export async function api<T>(server: ApiClient, method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}${route}`, {
    method,
    headers: { Authorization: `Bearer ${server.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(PATIENCE_MS),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

interface StatusBody {
  status: string;
  components: { database: { backend: string; mode: string; breaker: string | null; pendingSync: number } };
}

export const status = async (server: ApiClient): Promise<StatusBody> => (await api<StatusBody>(server, 'GET', '/api/status')).body;

/**
 * Several clients chatting through real HTTP until stopped. Each client alternates between new
 * conversations and follow-ups in its current one, so reads (conversation lookup, history) run
 * during faults too. Messages are unique, and the fake provider echoes them.
 */
export function chatLoad(servers: ApiClient | ApiClient[], options: { clients: number; tag: string; pauseMs?: number }) {
  const targets = Array.isArray(servers) ? servers : [servers];
  const results: ChatResult[] = [];
  const failures: ChatFailure[] = [];
  let stopped = false;
  let sent = 0;
  const loops = Array.from({ length: options.clients }, async (_, client) => {
    const server = targets[client % targets.length] as ApiClient;
    let conversationId: string | undefined;
    let turn = 0;
    while (!stopped) {
      const message = `${options.tag} client ${client} turn ${turn++} ${Math.random().toString(36).slice(2, 8)}`;
      const started = performance.now();
      const sentAt = Date.now();
      sent++;
      try {
        const res = await api<{ conversationId: string; message: { id: string; content: string; status: string } }>(server, 'POST', '/api/chat', {
          message,
          ...(conversationId !== undefined && turn % 3 !== 0 ? { conversationId } : {}),
        });
        if (res.status !== 200) {
          failures.push({ message, error: `${res.status} ${JSON.stringify(res.body)}` });
        } else {
          conversationId = res.body.conversationId;
          results.push({
            conversationId: res.body.conversationId,
            userContent: message,
            assistantId: res.body.message.id,
            assistantContent: res.body.message.content,
            status: res.body.message.status,
            ms: performance.now() - started,
            at: sentAt,
          });
        }
      } catch (err) {
        failures.push({ message, error: (err as Error).message });
      }
      if (options.pauseMs) await sleep(options.pauseMs);
    }
  });
  return {
    results,
    failures,
    sent: () => sent,
    /** Waits until at least `n` more chats completed. */
    async progress(n: number, timeoutMs = PATIENCE_MS): Promise<void> {
      const target = results.length + failures.length + n;
      await waitFor(`${n} more chats`, () => results.length + failures.length >= target, timeoutMs, 20);
    },
    async stop(): Promise<void> {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Watches /api/status and remembers every overall status and database mode it saw. */
export function statusWatch(server: ApiClient, everyMs = 50) {
  const seen = new Set<string>();
  const modes = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const s = await status(server);
        seen.add(s.status);
        modes.add(s.components.database.mode);
      } catch {
        // The server may be between restarts.
      }
      await sleep(everyMs);
    }
  })();
  return {
    seen,
    modes,
    async stop(): Promise<void> {
      stopped = true;
      await loop;
    },
  };
}

export async function waitRecovered(server: ApiClient, timeoutMs = PATIENCE_MS): Promise<void> {
  await waitFor(
    'breaker closed, primary mode and an empty outbox',
    async () => {
      const s = await status(server);
      const db = s.components.database;
      return db.breaker === 'closed' && db.mode === 'primary' && db.pendingSync === 0 && s.status === 'ok' ? s : false;
    },
    timeoutMs,
    100,
  );
}

export interface PgMessage {
  id: string;
  conversation_id: string;
  role: string;
  content: string;
  status: string;
}

/**
 * The assertions every fault scenario ends with: PostgreSQL holds every acknowledged message
 * exactly once with the content the client got back, and no reply is left 'streaming'.
 */
export async function assertAllInPostgres(pg: PrivatePostgres, database: string, results: ChatResult[]): Promise<PgMessage[]> {
  const rows = await pg.query<PgMessage>(database, 'SELECT id, conversation_id, role, content, status FROM messages');
  const byId = new Map(rows.map((r) => [r.id, r]));
  const userCount = new Map<string, number>();
  for (const r of rows) if (r.role === 'user') userCount.set(`${r.conversation_id}\n${r.content}`, (userCount.get(`${r.conversation_id}\n${r.content}`) ?? 0) + 1);
  const problems: string[] = [];
  for (const r of results) {
    const stored = byId.get(r.assistantId);
    if (!stored) problems.push(`assistant ${r.assistantId} missing`);
    else if (stored.content !== r.assistantContent || stored.status !== r.status || stored.conversation_id !== r.conversationId) {
      problems.push(`assistant ${r.assistantId} differs: ${JSON.stringify(stored)} vs ${JSON.stringify(r)}`);
    }
    const n = userCount.get(`${r.conversationId}\n${r.userContent}`) ?? 0;
    if (n !== 1) problems.push(`user message "${r.userContent}" stored ${n} times`);
  }
  if (problems.length > 0) throw new Error(`${problems.length} problems, first: ${problems.slice(0, 5).join('; ')}`);
  return rows;
}

export type { RunningServer };
export { startServer };

/** Rows in the outbox of a data directory's local replica, read straight from the file. */
export function outboxLength(dataDir: string): number {
  const db = new Sqlite(path.join(dataDir, 'replica.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  } finally {
    db.close();
  }
}
