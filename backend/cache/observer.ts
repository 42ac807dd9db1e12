import type { RedisCommandName } from './redis-tier.js';
import type { L2Result } from './two-tier.js';

/**
 * What the cache reports about itself. The cache owns this interface and whoever wants the
 * figures (the metrics module) implements it, so the cache depends on nothing above it.
 */
export interface CacheObserver {
  /** One look-up in a tier and how it ended. */
  lookup(tier: 'l1', result: 'hit' | 'miss'): void;
  lookup(tier: 'l2', result: L2Result): void;
  /** How long one Redis command took. */
  redisCommand(command: RedisCommandName, seconds: number): void;
}

export const silentCacheObserver: CacheObserver = { lookup: () => {}, redisCommand: () => {} };
