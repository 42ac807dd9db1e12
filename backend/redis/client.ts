import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';

// ioredis is loaded when the first connection is made: a server without Redis never pays for it.
const requireModule = createRequire(import.meta.url);
import type { Logger } from 'pino';

/**
 * Redis connections that fail fast. The cache and the Socket.IO adapter both open theirs here so
 * every connection gets the same rules: no offline queue for commands (a request never waits for
 * a reconnect), a command timeout, background reconnects with capped backoff, an `error`
 * listener (an unhandled one kills the process), and a fresh socket after any timeout.
 */

export const isRedisUrl = (url: string): boolean => /^rediss?:\/\//.test(url);

export type RedisRole =
  /**
   * On the request path (cache reads and writes): no offline queue, one retry, nothing resent
   * after a reconnect, and the command timeout as given.
   */
  | 'request'
  /** Fire-and-forget publishing (Socket.IO fan-out): no offline queue; nobody waits on it. */
  | 'publisher'
  /**
   * A connection in subscriber mode. Its only queued commands are (P)SUBSCRIBEs, a bounded set,
   * so it may queue them while disconnected and send them once connected.
   */
  | 'subscriber';

/**
 * Connections off the request path get a more lenient timeout: a ping that is merely slow on a
 * busy machine must not drop a healthy subscription (and the messages in flight with it).
 */
export const backgroundTimeout = (commandTimeoutMs: number): number => Math.max(1000, commandTimeoutMs * 4);

export interface RedisClientOptions {
  url: string;
  /** Shown in CLIENT LIST and in log lines, e.g. `orchestra:cache`. */
  name: string;
  role: RedisRole;
  /** For the `request` role; the other roles use `backgroundTimeout` of it. */
  commandTimeoutMs: number;
  logger: Logger;
}

/** Capped exponential backoff with jitter; never gives up, because Redis may come back. */
export function retryDelay(attempt: number): number {
  const base = Math.min(100 * 2 ** Math.min(attempt, 5), 2000);
  return base + Math.floor(Math.random() * 100);
}

const TIMEOUT_MESSAGE = 'Command timed out';

/**
 * A command failed because its connection was down (refused, reset, reconnecting). The connection
 * state already says Redis is unavailable, so the breaker does not count these: it is there for a
 * Redis that is connected but does not answer in time.
 */
export class RedisUnavailableError extends Error {
  readonly code = 'redis-unavailable';
  constructor(cause: unknown) {
    super(`redis is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'RedisUnavailableError';
    this.cause = cause;
  }
}

/** For the `redis` breaker: connection-down errors say nothing new. */
export const isRedisFailure = (err: unknown): boolean => !(err instanceof RedisUnavailableError);

export function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.message === TIMEOUT_MESSAGE || err.name === 'BreakerTimeoutError');
}

export function createRedisClient(options: RedisClientOptions): Redis {
  const subscriber = options.role === 'subscriber';
  const timeout = options.role === 'request' ? options.commandTimeoutMs : backgroundTimeout(options.commandTimeoutMs);
  const redisOptions: RedisOptions = {
    connectionName: options.name,
    connectTimeout: backgroundTimeout(options.commandTimeoutMs),
    // Also bounds the INFO ready check, so a connection that never answers is replaced.
    commandTimeout: timeout,
    enableOfflineQueue: subscriber,
    maxRetriesPerRequest: subscriber ? null : 1,
    autoResendUnfulfilledCommands: false,
    // Off: ioredis would renew subscriptions without handling a failure; owners renew their own.
    autoResubscribe: false,
    retryStrategy: retryDelay,
    keepAlive: 10_000,
    noDelay: true,
    lazyConnect: false,
  };
  const { Redis: RedisClient } = requireModule('ioredis') as typeof import('ioredis');
  const client = new RedisClient(options.url, redisOptions);
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
    // Harmless after a clean QUIT; ends the socket when QUIT did not finish in time.
    client.disconnect();
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
