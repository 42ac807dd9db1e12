import type { Logger } from 'pino';
import type { Cache, CacheStats, WrapOptions } from './cache.js';

/**
 * The cache the services hold; REDIS_URL can change under it live. A switch opens the new cache
 * (an empty memory tier, plus Redis when the URL names one) and swaps it in, then closes the old
 * one. Starting from an empty memory tier is what keeps contents correct: nothing read while this
 * instance was not hearing the new Redis's invalidations survives the switch.
 */
export class SwitchableCache implements Cache {
  constructor(
    private target: Cache,
    private readonly open: (redisUrl: string) => Cache,
    private readonly log: Logger,
  ) {}

  get<T>(key: string): Promise<T | undefined> {
    return this.target.get<T>(key);
  }

  set(key: string, value: unknown, ttlSeconds?: number): Promise<void> {
    return this.target.set(key, value, ttlSeconds);
  }

  wrap<T>(key: string, load: () => Promise<T>, options?: WrapOptions): Promise<T> {
    return this.target.wrap(key, load, options);
  }

  invalidate(keys: string[], prefixes?: string[]): Promise<void> {
    return this.target.invalidate(keys, prefixes);
  }

  stats(): CacheStats {
    return this.target.stats();
  }

  async reconfigure(redisUrl: string): Promise<void> {
    const previous = this.target;
    this.target = this.open(redisUrl);
    this.log.info({ l2: this.target.stats().l2.backend }, 'cache switched');
    await previous.close();
  }

  close(): Promise<void> {
    return this.target.close();
  }
}
