/**
 * The cache interface the services use. Keys are namespaced and versioned by `cacheKey`, so a
 * change in a cached shape (bump CACHE_SCHEMA) never reads stale entries from a shared Redis.
 */
export const CACHE_SCHEMA = 1;

export const cacheKey = (...parts: string[]): string => `orc:v${CACHE_SCHEMA}:${parts.join(':')}`;

export interface CacheStats {
  l1: { entries: number; bytes: number; hitRatio: number };
  l2: { backend: 'redis' | 'none'; status: 'up' | 'down' };
}

export interface WrapOptions {
  ttlSeconds?: number;
}

export interface Cache {
  get<T>(key: string): Promise<T | undefined>;
  /**
   * Stores a value fully determined by its key (a completion, a validation result). Other
   * instances may keep their copy; to change what a key stands for, `invalidate` it.
   */
  set(key: string, value: unknown, ttlSeconds?: number): Promise<void>;
  /** Returns the cached value or loads it once, however many callers miss at the same time. */
  wrap<T>(key: string, load: () => Promise<T>, options?: WrapOptions): Promise<T>;
  /** Drops exact keys and every key under the given prefixes, here and on other instances. */
  invalidate(keys: string[], prefixes?: string[]): Promise<void>;
  stats(): CacheStats;
  close(): Promise<void>;
}
