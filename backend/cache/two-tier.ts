import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Breaker } from '../breaker/breaker.js';
import type { Cache, CacheStats, WrapOptions } from './cache.js';
import { PendingInvalidations, encode, normalize, type Invalidation, type InvalidationMessage } from './invalidation.js';
import type { MemoryCache } from './memory.js';
import { RedisTier, type RedisCommandName } from './redis-tier.js';
import { SingleFlight } from './single-flight.js';

export type L2Result = 'hit' | 'miss' | 'error' | 'skip';

export interface TwoTierOptions {
  l1: MemoryCache;
  redisUrl: string;
  ttlSeconds: number;
  commandTimeoutMs: number;
  breaker: Breaker;
  logger: Logger;
  /**
   * L1 lifetime while L2 is down: invalidations from other instances cannot arrive then, so local
   * copies are kept only briefly. Default 5 s.
   */
  degradedTtlSeconds?: number;
  /**
   * How long a write waits for other instances to confirm its invalidation. Longer than a Redis
   * command: it covers the other instances' event loops too. Default: 4× the command timeout.
   */
  ackTimeoutMs?: number;
  /** Values larger than this (serialized) stay in L1 only. Default 1 MiB. */
  maxValueBytes?: number;
  heartbeatMs?: number;
  onLookup?: (tier: 'l2', result: L2Result) => void;
  observe?: (command: RedisCommandName, seconds: number) => void;
}

interface AckWait {
  got: number;
  need: number | undefined;
  /** Our own message came back through Redis. */
  echoed: boolean;
  done: (() => void) | undefined;
  echo: (() => void) | undefined;
  /** Redis was lost while waiting: the other instances may never get the message. */
  lost: boolean;
}

/** Whether `promise` settles within `ms` (no timer is left behind either way). */
async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  if (ms <= 0) return false;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * L1 in memory in front of L2 in Redis. Reads: L1, then L2, then the loader, one load per key at a
 * time. Writes: drop the keys here, bump their generations in Redis and publish them to the other
 * instances, then wait (bounded) until every instance confirmed, so a read anywhere after the
 * write returns is fresh. While Redis is unusable, L2 is skipped without waiting, invalidations
 * are kept and replayed, and L1 is flushed when Redis is back.
 */
export class TwoTierCache implements Cache {
  readonly instanceId = randomBytes(6).toString('hex');
  private readonly l1: MemoryCache;
  private readonly tier: RedisTier;
  private readonly flights = new SingleFlight();
  private readonly pending = new PendingInvalidations();
  private readonly waiting = new Map<number, AckWait>();
  private readonly writes = new Set<Promise<unknown>>();
  private readonly log: Logger;
  private readonly degradedTtlSeconds: number;
  private readonly ackTimeoutMs: number;
  private readonly maxValueBytes: number;
  /**
   * down: L2 is skipped and invalidations are kept for later. recovering: Redis answers again;
   * kept invalidations are replayed and new ones are published, but reads still skip L2. up: both.
   */
  private state: 'up' | 'recovering' | 'down' = 'down';
  private seq = 0;
  private lastUnconfirmedLog = -Infinity;
  private attempts = 0;
  private closed = false;

  constructor(private readonly options: TwoTierOptions) {
    this.l1 = options.l1;
    this.log = options.logger.child({ component: 'cache' });
    this.degradedTtlSeconds = Math.min(options.degradedTtlSeconds ?? 5, options.ttlSeconds);
    // Never below the command timeout: that part of the wait is Redis's, bounded by it anyway.
    this.ackTimeoutMs = Math.max(options.ackTimeoutMs ?? options.commandTimeoutMs * 4, options.commandTimeoutMs);
    this.maxValueBytes = options.maxValueBytes ?? 1024 * 1024;
    this.tier = new RedisTier({
      url: options.redisUrl,
      commandTimeoutMs: options.commandTimeoutMs,
      breaker: options.breaker,
      logger: options.logger,
      instanceId: this.instanceId,
      heartbeatMs: options.heartbeatMs ?? 1000,
      ...(options.observe ? { observe: options.observe } : {}),
      onChange: () => this.evaluate(),
      onMessage: (m) => this.onMessage(m),
      onAck: (seq) => this.onAck(seq),
    });
  }

  /** Whether L2 is in use right now. */
  get l2Up(): boolean {
    return this.state === 'up';
  }

  async get<T>(key: string): Promise<T | undefined> {
    const hit = this.l1.lookup(key);
    if (hit !== undefined) return hit.value as T;
    if (this.state !== 'up') {
      this.count('skip');
      return undefined;
    }
    const epoch = this.l1.epoch;
    const read = await this.tier.read(key);
    if (read.kind !== 'hit') {
      this.count(read.kind);
      return undefined;
    }
    const parsed = parse(read.payload);
    if (parsed === undefined) {
      this.count('error');
      return undefined;
    }
    this.count('hit');
    this.l1.putIfCurrent(key, parsed.value, epoch, this.l1Ttl(), read.payload.length);
    return parsed.value as T;
  }

  /**
   * Stores a value that is fully determined by its key (a completion, a validation result): other
   * instances may keep their own copy. To change what a key means, `invalidate` it.
   */
  async set(key: string, value: unknown, ttlSeconds?: number): Promise<void> {
    await this.l1.set(key, value, this.l1Ttl(ttlSeconds));
    this.flights.forget([key], []);
    if (this.state !== 'up') return;
    const payload = serialize(value, this.maxValueBytes);
    if (payload === undefined) return;
    const ttlMs = (ttlSeconds ?? this.options.ttlSeconds) * 1000;
    await this.tier.write(key, payload, '', ttlMs, ttlMs + 60_000).catch(() => undefined);
  }

  async wrap<T>(key: string, load: () => Promise<T>, options: WrapOptions = {}): Promise<T> {
    const hit = this.l1.lookup(key);
    if (hit !== undefined) return hit.value as T;
    return this.flights.run(key, async () => {
      const epoch = this.l1.epoch;
      let vector: string | undefined;
      if (this.state === 'up') {
        const read = await this.tier.read(key);
        if (read.kind === 'hit') {
          const parsed = parse(read.payload);
          if (parsed !== undefined) {
            this.count('hit');
            this.l1.putIfCurrent(key, parsed.value, epoch, this.l1Ttl(options.ttlSeconds), read.payload.length);
            return parsed.value as T;
          }
          this.count('error');
        } else {
          this.count(read.kind);
          if (read.kind === 'miss') vector = read.vector;
        }
      } else {
        this.count('skip');
      }
      const value = await load();
      // Serialized once: it sizes the L1 entry and is what L2 stores.
      const payload = vector !== undefined && this.state === 'up' ? serialize(value, this.maxValueBytes) : undefined;
      this.l1.putIfCurrent(key, value, epoch, this.l1Ttl(options.ttlSeconds), payload?.length);
      if (payload !== undefined && vector !== undefined) this.storeShared(key, payload, vector, options.ttlSeconds);
      return value;
    });
  }

  async invalidate(keys: string[], prefixes: string[] = []): Promise<void> {
    this.l1.drop(keys, prefixes);
    this.flights.forget(keys, prefixes);
    if (this.closed) return;
    const what = normalize(keys, prefixes);
    if (this.state === 'down') {
      this.pending.add(what);
      return;
    }
    try {
      await this.publish(what);
    } catch (err) {
      // Other instances may still hold the old value: stop trusting L2 until this is replayed.
      this.pending.add(what);
      this.goDown(`invalidation failed: ${(err as Error).message}`);
    }
  }

  stats(): CacheStats {
    return { l1: this.l1.l1Stats(), l2: { backend: 'redis', status: this.state === 'up' ? 'up' : 'down' } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.state = 'down';
    for (const wait of this.waiting.values()) {
      wait.echo?.();
      wait.done?.();
    }
    this.waiting.clear();
    await Promise.allSettled([...this.writes]);
    await this.tier.close();
    await this.l1.close();
  }

  private count(result: L2Result): void {
    this.options.onLookup?.('l2', result);
  }

  private l1Ttl(ttlSeconds?: number): number {
    const ttl = ttlSeconds ?? this.options.ttlSeconds;
    return this.state === 'up' ? ttl : Math.min(ttl, this.degradedTtlSeconds);
  }

  private storeShared(key: string, payload: string, vector: string, ttlSeconds: number | undefined): void {
    const ttlMs = (ttlSeconds ?? this.options.ttlSeconds) * 1000;
    const write = this.tier
      .write(key, payload, vector, ttlMs, ttlMs + 60_000)
      .catch(() => false)
      .finally(() => this.writes.delete(write));
    this.writes.add(write);
  }

  /**
   * Bumps generations, publishes, and waits until every subscriber confirmed. The wait has two
   * bounds. Our own message comes back to us through Redis like everyone else's; if it has not
   * within the command timeout, Redis is what is slow: the write stops waiting (it never waits on
   * Redis longer than that) and fails, so the caller keeps the invalidation for replay. Once it
   * has, Redis is fine and only other instances are late: they get up to the invalidation
   * timeout, because a busy instance would otherwise keep serving its old copy.
   */
  private async publish(what: Invalidation): Promise<void> {
    const seq = ++this.seq;
    const encoded = encode({ origin: this.instanceId, seq, what });
    const wait: AckWait = { got: 0, need: undefined, echoed: false, done: undefined, echo: undefined, lost: false };
    const finished = new Promise<void>((resolve) => {
      wait.done = resolve;
    });
    const echoed = new Promise<void>((resolve) => {
      wait.echo = resolve;
    });
    const started = performance.now();
    this.waiting.set(seq, wait);
    try {
      const freshMs = Math.max(3_600_000, this.options.ttlSeconds * 2000);
      const receivers = await this.tier.invalidate(encoded.what, encoded.text, freshMs);
      wait.need = receivers;
      if (wait.got >= receivers) return;
      if (!wait.echoed) {
        // The echo travels on the other connection and usually lands right after the reply; a
        // short grace keeps a slow-but-successful script from counting as a lost message.
        const cmd = this.options.commandTimeoutMs;
        await settlesWithin(echoed, Math.max(started + cmd - performance.now(), Math.min(50, cmd)));
        this.checkLost(wait);
        // Redis took the message but did not relay it: other instances may not have it either.
        if (!wait.echoed) throw new Error('redis did not relay the invalidation in time');
      }
      if (wait.got < receivers && !wait.lost) {
        const confirmed = await settlesWithin(finished, started + this.ackTimeoutMs - performance.now());
        if (!confirmed) this.unconfirmed(seq, wait.got, receivers);
      }
      this.checkLost(wait);
    } finally {
      this.waiting.delete(seq);
    }
  }

  private checkLost(wait: AckWait): void {
    if (wait.lost) throw new Error('redis was lost while waiting for other instances to confirm');
  }

  /**
   * Another instance did not confirm in time (its event loop is blocked, or it is paused): a read
   * there may return its old copy until the message arrives. Said once a minute at most.
   */
  private unconfirmed(seq: number, got: number, need: number): void {
    const now = performance.now();
    if (now - this.lastUnconfirmedLog < 60_000) {
      this.log.debug({ seq, got, need }, 'not every instance confirmed an invalidation in time');
      return;
    }
    this.lastUnconfirmedLog = now;
    this.log.warn(
      { seq, confirmed: got, instances: need, timeoutMs: this.ackTimeoutMs },
      'not every instance confirmed a cache invalidation in time; a busy instance may briefly serve an old copy (see CACHE_INVALIDATION_TIMEOUT_MS)',
    );
  }

  private onAck(seq: number): void {
    const wait = this.waiting.get(seq);
    if (wait === undefined) return;
    wait.got++;
    if (wait.need !== undefined && wait.got >= wait.need) wait.done?.();
  }

  private onMessage(message: InvalidationMessage): void {
    if (message.origin === this.instanceId) {
      // Our own message: applied before it was sent; it counts as our acknowledgement, and shows
      // that Redis is relaying.
      const wait = this.waiting.get(message.seq);
      if (wait !== undefined) {
        wait.echoed = true;
        wait.echo?.();
      }
      this.onAck(message.seq);
      return;
    }
    if (message.what.all) {
      this.l1.clear();
      this.flights.forgetAll();
    } else {
      this.l1.drop(message.what.keys, message.what.prefixes);
      this.flights.forget(message.what.keys, message.what.prefixes);
    }
    this.tier.ack(message.origin, message.seq);
  }

  private healthy(): boolean {
    return !this.closed && this.tier.connected && this.options.breaker.state === 'closed';
  }

  private evaluate(): void {
    if (this.closed) return;
    const healthy = this.healthy();
    if (this.state !== 'down' && !healthy) this.goDown('redis is unreachable');
    else if (this.state === 'down' && healthy) void this.recover();
  }

  private goDown(reason: string): void {
    if (this.state === 'down') return;
    const wasUp = this.state === 'up';
    this.state = 'down';
    // Writes waiting for confirmations stop waiting: those travel through Redis too. Each keeps
    // its invalidation for replay (see publish).
    for (const wait of this.waiting.values()) {
      wait.lost = true;
      wait.echo?.();
      wait.done?.();
    }
    // Invalidations from other instances may be lost from here on: keep nothing long.
    this.l1.clear();
    this.flights.forgetAll();
    if (wasUp) this.log.warn({ reason }, 'shared cache (redis) is down; serving from memory and the database');
  }

  /**
   * Replays what was invalidated while Redis was unreachable, then uses L2 again. Invalidations
   * made meanwhile are published directly, so a steady stream of writes cannot hold this up.
   */
  private async recover(): Promise<void> {
    this.state = 'recovering';
    const attempt = ++this.attempts;
    const what = this.pending.take();
    if (what.all || what.keys.length + what.prefixes.length > 0) {
      try {
        await this.publish(what);
      } catch (err) {
        this.pending.add(what);
        this.goDown(`replaying invalidations failed: ${(err as Error).message}`);
        return;
      }
    }
    // Lost Redis again meanwhile (and maybe started another recovery): that one decides.
    if (this.state !== 'recovering' || attempt !== this.attempts) return;
    if (!this.healthy()) {
      this.goDown('redis is unreachable');
      return;
    }
    this.state = 'up';
    // Invalidations sent while we could not hear them may have been missed.
    this.l1.clear();
    this.flights.forgetAll();
    this.log.info('shared cache (redis) is up; local cache flushed');
  }
}

function serialize(value: unknown, maxBytes: number): string | undefined {
  if (value === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return undefined;
  }
  if (text === undefined || text.length > maxBytes || Buffer.byteLength(text) > maxBytes) return undefined;
  return text;
}

function parse(payload: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(payload) as unknown };
  } catch {
    return undefined;
  }
}
