import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Redis connections that fail fast. The cache and the Socket.IO adapter both open theirs here so
 * every connection gets the same rules: no offline queue for commands (a request never waits for
 * a reconnect), a command timeout, background reconnects with capped backoff, an `error`
 * listener (an unhandled one kills the process), and a fresh socket after any timeout.
 */

export const isRedisUrl = (url: string): boolean => /^rediss?:\/\//.test(url);

export type RedisRole =
  /** Request-path commands: no offline queue, one retry, nothing resent after a reconnect. */
  | 'command'
  /**
   * A connection in subscriber mode. Its only queued commands are (P)SUBSCRIBEs, a bounded set,
   * so it may queue them while disconnected and send them once connected.
   */
  | 'subscriber';

export interface RedisClientOptions {
  url: string;
  /** Shown in CLIENT LIST and in log lines, e.g. `orchestra:cache`. */
  name: string;
  role: RedisRole;
  commandTimeoutMs: number;
  logger: Logger;
  /** Re-subscribe channels after a reconnect (the Socket.IO adapter relies on it). Default false. */
  autoResubscribe?: boolean;
}

/** Capped exponential backoff with jitter; never gives up, because Redis may come back. */
export function retryDelay(attempt: number): number {
  const base = Math.min(100 * 2 ** Math.min(attempt, 5), 2000);
  return base + Math.floor(Math.random() * 100);
}

const TIMEOUT_MESSAGE = 'Command timed out';

export function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.message === TIMEOUT_MESSAGE || err.name === 'BreakerTimeoutError');
}

export function createRedisClient(options: RedisClientOptions): Redis {
  const subscriber = options.role === 'subscriber';
  const redisOptions: RedisOptions = {
    connectionName: options.name,
    connectTimeout: Math.max(1000, options.commandTimeoutMs * 4),
    // Also bounds the INFO ready check, so a connection that never answers is replaced.
    commandTimeout: options.commandTimeoutMs,
    enableOfflineQueue: subscriber,
    maxRetriesPerRequest: subscriber ? null : 1,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: options.autoResubscribe ?? false,
    retryStrategy: retryDelay,
    keepAlive: 10_000,
    noDelay: true,
    lazyConnect: false,
  };
  const client = new Redis(options.url, redisOptions);
  const log = options.logger.child({ redis: options.name });
  // One warning per outage, not one per reconnect attempt.
  let quiet = false;
  client.on('error', (err: Error) => {
    if (quiet) {
      log.debug({ err: err.message }, 'redis connection error');
      return;
    }
    quiet = true;
    log.warn({ err: err.message }, 'redis connection lost; retrying in the background');
  });
  client.on('ready', () => {
    if (quiet) log.info('redis connection is back');
    quiet = false;
  });
  return client;
}

/**
 * Drops a connection that timed out and lets ioredis open a new one. A socket that stopped
 * answering may still deliver late or shifted replies; a fresh one cannot.
 */
export function resetConnection(client: Redis): void {
  if (client.status === 'ready' || client.status === 'connect' || client.status === 'connecting') client.disconnect(true);
}

/** Closes a connection without waiting longer than `timeoutMs` for a clean QUIT. */
export async function closeRedisClient(client: Redis, timeoutMs = 500): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit().then(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
  } catch {
    // The connection is going away either way.
  } finally {
    clearTimeout(timer);
    if (client.status !== 'end') client.disconnect();
  }
}

/**
 * Pings a connection every `intervalMs` and replaces it when a ping times out. Subscriber
 * connections need this: they only receive, so a silent partition is otherwise never noticed.
 */
export function watchConnection(
  client: Redis,
  intervalMs: number,
  onUnhealthy: (err: unknown) => void = () => undefined,
): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy || client.status !== 'ready') return;
    busy = true;
    client
      .ping()
      .catch((err: unknown) => {
        if (client.status === 'ready') resetConnection(client);
        onUnhealthy(err);
      })
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
