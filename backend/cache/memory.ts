import { LRUCache } from 'lru-cache';
import type { Cache, CacheStats, WrapOptions } from './cache.js';
import { SingleFlight } from './single-flight.js';

export interface MemoryCacheOptions {
  ttlSeconds: number;
  maxEntries?: number;
  maxBytes?: number;
  /** Counts look-ups for the metrics: result is hit or miss. */
  onLookup?: (tier: 'l1', result: 'hit' | 'miss') => void;
}

interface Boxed {
  value: unknown;
}

export const DEFAULT_MAX_ENTRIES = 5000;
export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;

/** Rough byte size of a cached value, for the size bound. */
export function sizeOf(value: unknown): number {
  if (typeof value === 'string') return value.length * 2 + 16;
  try {
    return (JSON.stringify(value)?.length ?? 8) * 2 + 16;
  } catch {
    return 1024;
  }
}

/**
 * L1: an in-process LRU bounded by entries and bytes, with single-flight loading. On its own it is
 * the whole cache (REDIS_URL=memory://); under a TwoTierCache it is the local tier.
 */
export class MemoryCache implements Cache {
  private readonly lru: LRUCache<string, Boxed>;
  private readonly flights = new SingleFlight();
  /** Bumped by every invalidation: a load that began before it must not store its result. */
  private generation = 0;
  private hits = 0;
  private misses = 0;

  constructor(private readonly options: MemoryCacheOptions) {
    this.lru = new LRUCache<string, Boxed>({
      max: options.maxEntries ?? DEFAULT_MAX_ENTRIES,
      maxSize: options.maxBytes ?? DEFAULT_MAX_BYTES,
      sizeCalculation: (box) => Math.max(1, sizeOf(box.value)),
      ttl: options.ttlSeconds * 1000,
      ttlAutopurge: false,
    });
  }

  /** Changes whenever anything is invalidated; compare before storing a value loaded meanwhile. */
  get epoch(): number {
    return this.generation;
  }

  /** A counted look-up: undefined on a miss. */
  lookup(key: string): { value: unknown } | undefined {
    const box = this.lru.get(key);
    if (box === undefined) {
      this.misses++;
      this.options.onLookup?.('l1', 'miss');
      return undefined;
    }
    this.hits++;
    this.options.onLookup?.('l1', 'hit');
    return box;
  }

  peek<T>(key: string): T | undefined {
    return this.lookup(key)?.value as T | undefined;
  }

  get<T>(key: string): Promise<T | undefined> {
    return Promise.resolve(this.peek<T>(key));
  }

  /** `serializedLength`, when the caller has the JSON at hand, spares sizing the value again. */
  put(key: string, value: unknown, ttlSeconds?: number, serializedLength?: number): void {
    this.lru.set(key, { value }, {
      ...(ttlSeconds === undefined ? {} : { ttl: ttlSeconds * 1000 }),
      ...(serializedLength === undefined ? {} : { size: Math.max(1, serializedLength * 2 + 16) }),
    });
  }

  /** Stores only if nothing was invalidated since `epoch` was read. */
  putIfCurrent(key: string, value: unknown, epoch: number, ttlSeconds?: number, serializedLength?: number): void {
    if (epoch === this.generation) this.put(key, value, ttlSeconds, serializedLength);
  }

  set(key: string, value: unknown, ttlSeconds?: number): Promise<void> {
    this.generation++;
    this.flights.forget([key], []);
    this.put(key, value, ttlSeconds);
    return Promise.resolve();
  }

  async wrap<T>(key: string, load: () => Promise<T>, options: WrapOptions = {}): Promise<T> {
    const hit = this.lookup(key);
    if (hit !== undefined) return hit.value as T;
    return this.flights.run(key, async () => {
      const startedAt = this.generation;
      const value = await load();
      this.putIfCurrent(key, value, startedAt, options.ttlSeconds);
      return value;
    });
  }

  drop(keys: string[], prefixes: string[] = []): void {
    this.generation++;
    for (const k of keys) this.lru.delete(k);
    if (prefixes.length > 0) {
      for (const k of [...this.lru.keys()]) if (prefixes.some((p) => k.startsWith(p))) this.lru.delete(k);
    }
    // Callers arriving after the write must not join a load that may have read the old value.
    this.flights.forget(keys, prefixes);
  }

  invalidate(keys: string[], prefixes: string[] = []): Promise<void> {
    this.drop(keys, prefixes);
    return Promise.resolve();
  }

  clear(): void {
    this.generation++;
    this.lru.clear();
    this.flights.forgetAll();
  }

  l1Stats(): CacheStats['l1'] {
    const total = this.hits + this.misses;
    return { entries: this.lru.size, bytes: this.lru.calculatedSize, hitRatio: total === 0 ? 0 : this.hits / total };
  }

  stats(): CacheStats {
    return { l1: this.l1Stats(), l2: { backend: 'none', status: 'up' } };
  }

  close(): Promise<void> {
    this.clear();
    return Promise.resolve();
  }
}
