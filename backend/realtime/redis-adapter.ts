import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { closeRedisClient, createRedisClient, isTimeout, resetConnection, watchConnection } from '../redis/client.js';
import type { OrchestraServer } from './socket-server.js';

/**
 * Fans Socket.IO broadcasts out across instances through Redis, so a client on instance B that
 * joined a conversation receives the tokens instance A streams. Redis being down never breaks
 * Socket.IO: local delivery happens regardless, and a publish that cannot reach Redis is dropped
 * (other instances miss those events until Redis is back) instead of waiting or throwing.
 */

export interface RedisAdapterOptions {
  url: string;
  commandTimeoutMs: number;
  logger: Logger;
  /** Ping interval of both connections, ms. Default 1000. */
  heartbeatMs?: number;
  /** Counts publishes dropped because Redis was unreachable. */
  onDropped?: () => void;
}

export interface RedisAdapterHandle {
  close(): Promise<void>;
}

/** Commands the adapter issues without handling their promise; a rejection must not crash us. */
const GUARDED = new Set<PropertyKey>(['publish', 'subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe']);

interface Subscriptions {
  channels: Set<string>;
  patterns: Set<string>;
}

const names = (args: unknown[]): string[] => args.flat().filter((a): a is string => typeof a === 'string');

/**
 * The adapter calls `pubClient.publish(...)` and `subClient.psubscribe(...)` without awaiting,
 * so with a fail-fast client a Redis outage would surface as unhandled rejections. This view of
 * the client settles those calls itself, skips publishing while the connection is down, and
 * remembers what was subscribed so it can be renewed after a reconnect.
 */
function guarded(client: Redis, onFailure: (err: unknown) => void, subscriptions?: Subscriptions): Redis {
  return new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (!GUARDED.has(prop)) return method.bind(target);
      return (...args: unknown[]): Promise<unknown> => {
        if (subscriptions !== undefined) {
          const list = names(args);
          if (prop === 'subscribe') for (const c of list) subscriptions.channels.add(c);
          if (prop === 'psubscribe') for (const c of list) subscriptions.patterns.add(c);
          if (prop === 'unsubscribe') for (const c of list) subscriptions.channels.delete(c);
          if (prop === 'punsubscribe') for (const c of list) subscriptions.patterns.delete(c);
        }
        if (prop === 'publish' && target.status !== 'ready') {
          onFailure(undefined);
          return Promise.resolve(0);
        }
        return Promise.resolve(method.apply(target, args)).catch((err: unknown) => {
          onFailure(err);
          if (isTimeout(err)) resetConnection(target);
          return 0;
        });
      };
    },
  });
}

/**
 * Renews the adapter's subscriptions whenever the connection becomes ready. (ioredis can do this itself, but it
 * does not handle the promise, so a renewal that times out would be an unhandled rejection.)
 */
function resubscribeOnReconnect(sub: Redis, subscriptions: Subscriptions, log: Logger): void {
  // Also on the first connect: the adapter's own calls may have timed out while queued.
  // Subscribing twice to a channel is harmless.
  sub.on('ready', () => {
    const renew = async (): Promise<void> => {
      if (subscriptions.channels.size > 0) await sub.subscribe(...subscriptions.channels);
      if (subscriptions.patterns.size > 0) await sub.psubscribe(...subscriptions.patterns);
    };
    renew().catch((err: unknown) => {
      log.debug({ err: (err as Error).message }, 'renewing socket.io subscriptions failed; reconnecting');
      resetConnection(sub);
    });
  });
}

export function attachRedisAdapter(io: OrchestraServer, options: RedisAdapterOptions): RedisAdapterHandle {
  const { url, commandTimeoutMs, logger } = options;
  const log = logger.child({ component: 'socket.io-redis' });
  const pub = createRedisClient({ url, name: 'orchestra:socket.io-pub', role: 'publisher', commandTimeoutMs, logger });
  // The adapter subscribes once, in its constructor (queued until connected); renewed on reconnects.
  const sub = createRedisClient({ url, name: 'orchestra:socket.io-sub', role: 'subscriber', commandTimeoutMs, logger });
  const subscriptions: Subscriptions = { channels: new Set(), patterns: new Set() };
  let dropped = 0;
  const onFailure = (err: unknown): void => {
    dropped++;
    options.onDropped?.();
    if (dropped === 1 || dropped % 1000 === 0) {
      log.debug({ dropped, err: err instanceof Error ? err.message : 'redis not connected' }, 'socket.io event not fanned out (redis unavailable)');
    }
  };
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const unwatch = [watchConnection(pub, heartbeatMs), watchConnection(sub, heartbeatMs)];
  // Loaded only when Redis is configured.
  const { createAdapter } = createRequire(import.meta.url)('@socket.io/redis-adapter') as typeof import('@socket.io/redis-adapter');
  io.adapter(createAdapter(guarded(pub, onFailure), guarded(sub, onFailure, subscriptions), { requestsTimeout: Math.max(1000, commandTimeoutMs * 4) }));
  resubscribeOnReconnect(sub, subscriptions, log);

  let closing: Promise<void> | undefined;
  return {
    close(): Promise<void> {
      closing ??= (async () => {
        for (const stop of unwatch) stop();
        await Promise.allSettled([closeRedisClient(pub), closeRedisClient(sub)]);
      })();
      return closing;
    },
  };
}

export interface FanOutOptions extends Omit<RedisAdapterOptions, 'url'> {
  /** Told whether events now fan out to other instances (Realtime.clustered). */
  onClustered: (clustered: boolean) => void;
}

/** Cross-instance relay that REDIS_URL can switch live (attach, detach, move to another Redis). */
export interface FanOut {
  readonly clustered: boolean;
  switchTo(redisUrl: string | undefined): Promise<void>;
  close(): Promise<void>;
}

/**
 * Socket.IO keeps room membership in its adapter, and installing another adapter replaces the
 * adapter of every namespace. So a switch copies each namespace's memberships (socket id -> rooms)
 * from the old adapter into the new one before closing the old Redis connections: sockets stay
 * in the conversations they joined and keep receiving events without reconnecting. Events
 * published by other instances while the new connections subscribe are missed, as during a Redis
 * outage; the catch-up of a resumed reply covers tokens.
 */
export function fanOut(io: OrchestraServer, redisUrl: string | undefined, options: FanOutOptions): FanOut {
  // The in-memory adapter Socket.IO started with, to go back to when Redis goes away.
  const inMemory = io.adapter();
  let handle = redisUrl ? attachRedisAdapter(io, { ...options, url: redisUrl }) : undefined;
  options.onClustered(handle !== undefined);
  return {
    get clustered() {
      return handle !== undefined;
    },
    async switchTo(url: string | undefined): Promise<void> {
      const memberships = [...io._nsps.values()].map((nsp) => ({
        nsp,
        sids: [...nsp.adapter.sids].map(([sid, rooms]) => [sid, new Set(rooms)] as const),
      }));
      const previous = handle;
      if (url) {
        handle = attachRedisAdapter(io, { ...options, url });
      } else {
        if (inMemory) io.adapter(inMemory);
        handle = undefined;
      }
      for (const { nsp, sids } of memberships) {
        for (const [sid, rooms] of sids) await nsp.adapter.addAll(sid, rooms);
      }
      options.onClustered(handle !== undefined);
      await previous?.close();
    },
    async close(): Promise<void> {
      await handle?.close();
    },
  };
}
