import type { Logger } from 'pino';
import type { BreakerRegistry } from '../breaker/breaker.js';
import type { Config } from '../config/schema.js';
import { isRedisFailure, isRedisUrl } from '../redis/client.js';
import type { Cache } from './cache.js';
import type { CacheObserver } from './observer.js';
import { MemoryCache } from './memory.js';
import { SwitchableCache } from './switchable.js';
import { TwoTierCache } from './two-tier.js';

export interface OpenCacheDeps {
  breakers: BreakerRegistry;
  observer: CacheObserver;
  logger: Logger;
  /** Ping interval of the Redis connections, ms. Default 1000. */
  heartbeatMs?: number;
}

export type CacheSettings = Pick<
  Config,
  'redisUrl' | 'cacheTtlSeconds' | 'cacheMaxEntries' | 'cacheMaxBytes' | 'redisCommandTimeoutMs' | 'cacheInvalidationTimeoutMs' | 'circuitBreakerThreshold' | 'circuitBreakerResetMs'
>;

/**
 * The cache REDIS_URL asks for: memory only (`memory://`), or memory in front of Redis
 * (`redis://`, `rediss://`) with its own `redis` breaker. Never waits for Redis: a server starts
 * with Redis down and picks it up when it appears.
 */
export function openCache(config: CacheSettings, deps: OpenCacheDeps): Cache {
  const l1 = new MemoryCache({
    ttlSeconds: config.cacheTtlSeconds,
    maxEntries: config.cacheMaxEntries,
    maxBytes: config.cacheMaxBytes,
    onLookup: (tier, result) => deps.observer.lookup(tier, result),
  });
  if (!isRedisUrl(config.redisUrl)) return l1;
  const breaker = deps.breakers.create('redis', {
    threshold: config.circuitBreakerThreshold,
    resetTimeoutMs: config.circuitBreakerResetMs,
    // ioredis enforces the command timeout; this is only a backstop.
    timeoutMs: config.redisCommandTimeoutMs + 50,
    isFailure: isRedisFailure,
  });
  return new TwoTierCache({
    l1,
    redisUrl: config.redisUrl,
    ttlSeconds: config.cacheTtlSeconds,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    ackTimeoutMs: config.cacheInvalidationTimeoutMs,
    breaker,
    logger: deps.logger,
    ...(deps.heartbeatMs !== undefined ? { heartbeatMs: deps.heartbeatMs } : {}),
    onLookup: (tier, result) => deps.observer.lookup(tier, result),
    observe: (command, seconds) => deps.observer.redisCommand(command, seconds),
  });
}

/**
 * The cache REDIS_URL asks for, switchable live to another REDIS_URL (memory only, Redis, another
 * Redis). The `redis` breaker follows: replaced for a new Redis, removed when Redis goes away.
 */
export function openSwitchableCache(config: CacheSettings, deps: OpenCacheDeps): SwitchableCache {
  return new SwitchableCache(
    openCache(config, deps),
    (redisUrl) => {
      if (!isRedisUrl(redisUrl)) deps.breakers.remove('redis');
      return openCache({ ...config, redisUrl }, deps);
    },
    deps.logger,
  );
}
