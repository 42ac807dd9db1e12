import { Redis } from 'ioredis';
import { pino } from 'pino';
import { BreakerRegistry } from '../../../backend/breaker/breaker.js';
import { MemoryCache } from '../../../backend/cache/memory.js';
import { isRedisFailure } from '../../../backend/redis/client.js';
import { TwoTierCache, type L2Result, type TwoTierOptions } from '../../../backend/cache/two-tier.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';

export const silent = pino({ level: 'silent' });

export interface TestCache {
  cache: TwoTierCache;
  l1: MemoryCache;
  breakers: BreakerRegistry;
  l2: Record<L2Result, number>;
  close(): Promise<void>;
}

export interface TestCacheOptions extends Partial<Omit<TwoTierOptions, 'l1' | 'redisUrl' | 'breaker' | 'logger'>> {
  maxBytes?: number;
  maxEntries?: number;
  resetTimeoutMs?: number;
  threshold?: number;
}

/** A two-tier cache as the server builds it, with its own breaker registry. */
export function twoTier(redisUrl: string, options: TestCacheOptions = {}): TestCache {
  const { maxBytes, maxEntries, resetTimeoutMs = 300, threshold = 3, ...rest } = options;
  const ttlSeconds = rest.ttlSeconds ?? 60;
  const commandTimeoutMs = rest.commandTimeoutMs ?? 200;
  const l1 = new MemoryCache({ ttlSeconds, ...(maxBytes !== undefined ? { maxBytes } : {}), ...(maxEntries !== undefined ? { maxEntries } : {}) });
  const breakers = new BreakerRegistry();
  const breaker = breakers.create('redis', { threshold, resetTimeoutMs, timeoutMs: commandTimeoutMs + 50, isFailure: isRedisFailure });
  const l2: Record<L2Result, number> = { hit: 0, miss: 0, error: 0, skip: 0 };
  const cache = new TwoTierCache({
    heartbeatMs: 100,
    ...rest,
    l1,
    redisUrl,
    ttlSeconds,
    commandTimeoutMs,
    breaker,
    logger: silent,
    onLookup: (_tier, result) => {
      l2[result]++;
    },
  });
  return {
    cache,
    l1,
    breakers,
    l2,
    async close() {
      await cache.close();
      breakers.shutdown();
    },
  };
}

export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = PATIENCE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A plain client for looking into Redis from a test. */
export function inspector(url: string): Redis {
  const client = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  return client;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
