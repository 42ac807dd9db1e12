import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { BreakerOpenError, type Breaker } from '../breaker/breaker.js';
import { RedisUnavailableError, closeRedisClient, createRedisClient, isTimeout, resetConnection, watchConnection } from '../redis/client.js';
import { ALL_SCOPE, INVALIDATE_SCRIPT, WRITE_SCRIPT, generationVector, keyScope, scopeForPrefix, scopesOf } from './generations.js';
import { INVALIDATION_CHANNEL, ackChannel, decode, type Invalidation, type InvalidationMessage } from './invalidation.js';

/**
 * L2: Redis, reached only through its breaker and with a command timeout, so a slow or absent
 * Redis costs a request at most one timeout and usually nothing (the breaker answers at once).
 * Two connections: one for commands, one subscribed to invalidations and acknowledgements.
 */

export type L2Read =
  | { kind: 'hit'; payload: string }
  /** Not stored (or stored under older generations); `vector` is what a store must still match. */
  | { kind: 'miss'; vector: string }
  | { kind: 'error' };

export type RedisCommandName = 'read' | 'write' | 'invalidate' | 'ack' | 'ping';

export interface RedisTierOptions {
  url: string;
  commandTimeoutMs: number;
  breaker: Breaker;
  logger: Logger;
  instanceId: string;
  /** How often both connections are pinged (the breaker's probe while it is half-open). */
  heartbeatMs: number;
  observe?: (command: RedisCommandName, seconds: number) => void;
  /** Connection or subscription state changed; the owner re-evaluates whether L2 is usable. */
  onChange: () => void;
  onMessage: (message: InvalidationMessage) => void;
  onAck: (seq: number) => void;
}

type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

export class RedisTier {
  private readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly scripts: { write: ScriptCall; invalidate: ScriptCall };
  private readonly ackOf: string;
  private subscribed = false;
  private closed = false;
  private readonly stopWatching: () => void;
  private readonly stopBreakerWatch: () => void;
  private readonly heartbeat: NodeJS.Timeout;
  private pinging = false;

  constructor(private readonly options: RedisTierOptions) {
    const { url, commandTimeoutMs, logger } = options;
    this.ackOf = ackChannel(options.instanceId);
    this.client = createRedisClient({ url, name: 'orchestra:cache', role: 'request', commandTimeoutMs, logger });
    this.subscriber = createRedisClient({ url, name: 'orchestra:cache-sub', role: 'subscriber', commandTimeoutMs, logger });
    this.scripts = {
      write: this.define('orcCacheWrite', WRITE_SCRIPT),
      invalidate: this.define('orcCacheInvalidate', INVALIDATE_SCRIPT),
    };

    for (const event of ['ready', 'close', 'end', 'reconnecting'] as const) this.client.on(event, () => options.onChange());
    this.subscriber.on('ready', () => void this.subscribe());
    this.subscriber.on('close', () => {
      if (this.subscribed) {
        this.subscribed = false;
        options.onChange();
      }
    });
    this.subscriber.on('message', (channel: string, text: string) => this.onMessage(channel, text));
    this.stopWatching = watchConnection(this.subscriber, options.heartbeatMs, () => {
      this.subscribed = false;
      options.onChange();
    });
    // A timeout may leave the command socket answering out of step: replace it.
    this.stopBreakerWatch = options.breaker.onTransition((t) => {
      if (t.to === 'open' && !this.closed) resetConnection(this.client);
      options.onChange();
    });
    this.heartbeat = setInterval(() => void this.ping(), options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Both connections are up and the invalidation channel is subscribed. */
  get connected(): boolean {
    return !this.closed && this.client.status === 'ready' && this.subscriber.status === 'ready' && this.subscribed;
  }

  async read(key: string): Promise<L2Read> {
    try {
      // One MGET (atomic, no script): the generations, then the stored value.
      const reply = await this.call('read', () => this.client.mget(...scopesOf(key), key));
      const stored = reply.pop();
      const vector = generationVector(reply);
      if (typeof stored === 'string' && stored.length > vector.length && stored.startsWith(vector) && stored[vector.length] === '\n') {
        return { kind: 'hit', payload: stored.slice(vector.length + 1) };
      }
      return { kind: 'miss', vector };
    } catch {
      return { kind: 'error' };
    }
  }

  /** Stores `payload` if the generations still equal `vector` ('' stores unconditionally). */
  async write(key: string, payload: string, vector: string, ttlMs: number, keepScopesMs: number): Promise<boolean> {
    const [count, ...keys] = withScopes(key);
    const reply = await this.call('write', () => this.scripts.write(count, ...keys, vector, payload, Math.max(1, Math.round(ttlMs)), keepScopesMs));
    return reply === 1;
  }

  /**
   * Bumps the generations the invalidation covers, unlinks the exact keys and publishes `text`;
   * returns how many subscribers (instances, this one included) received it.
   */
  async invalidate(what: Invalidation, text: string, freshScopeMs: number): Promise<number> {
    const scopes = what.all ? [ALL_SCOPE] : [...new Set([...what.keys.map(keyScope), ...what.prefixes.map(scopeForPrefix)])];
    const unlink = what.all ? [] : what.keys;
    const keys = [...scopes, ...unlink];
    const reply = await this.call('invalidate', () =>
      this.scripts.invalidate(keys.length, ...keys, scopes.length, freshScopeMs, INVALIDATION_CHANNEL, text),
    );
    return typeof reply === 'number' ? reply : 0;
  }

  /** Tells the writing instance this one has applied its invalidation. Best effort. */
  ack(origin: string, seq: number): void {
    void this.call('ack', () => this.client.publish(ackChannel(origin), String(seq))).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.stopWatching();
    this.stopBreakerWatch();
    await Promise.allSettled([closeRedisClient(this.client), closeRedisClient(this.subscriber)]);
  }

  private define(name: string, lua: string): ScriptCall {
    // defineCommand uses EVALSHA and falls back to EVAL after NOSCRIPT (a restarted Redis).
    this.client.defineCommand(name, { lua });
    const fn = (this.client as unknown as Record<string, ScriptCall | undefined>)[name];
    if (fn === undefined) throw new Error(`redis script ${name} was not defined`);
    return fn.bind(this.client);
  }

  private async call<T>(command: RedisCommandName, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let reached = true;
    try {
      return await this.options.breaker.run(async () => {
        try {
          return await fn();
        } catch (err) {
          throw this.client.status === 'ready' ? err : new RedisUnavailableError(err);
        }
      });
    } catch (err) {
      if (err instanceof BreakerOpenError) reached = false;
      if (isTimeout(err)) resetConnection(this.client);
      throw err;
    } finally {
      if (reached) this.options.observe?.(command, (performance.now() - started) / 1000);
    }
  }

  private async ping(): Promise<void> {
    if (this.pinging || this.closed || this.client.status !== 'ready') return;
    this.pinging = true;
    try {
      await this.call('ping', () => this.client.ping());
    } catch {
      // Counted by the breaker; the owner hears about a transition through onChange.
    } finally {
      this.pinging = false;
      this.options.onChange();
    }
  }

  private async subscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(INVALIDATION_CHANNEL, this.ackOf);
      if (this.subscriber.status !== 'ready') return;
      this.subscribed = true;
    } catch (err) {
      this.options.logger.debug({ err: (err as Error).message }, 'cache invalidation subscribe failed');
      resetConnection(this.subscriber);
    }
    this.options.onChange();
  }

  private onMessage(channel: string, text: string): void {
    if (channel === this.ackOf) {
      const seq = Number(text);
      if (Number.isSafeInteger(seq)) this.options.onAck(seq);
      return;
    }
    if (channel !== INVALIDATION_CHANNEL) return;
    const message = decode(text);
    if (message === undefined) {
      this.options.logger.debug({ bytes: text.length }, 'ignored a malformed cache invalidation');
      return;
    }
    this.options.onMessage(message);
  }
}

/** Script arguments for a data key: the key count, the key, then its generation scopes. */
function withScopes(key: string): [number, ...string[]] {
  const scopes = scopesOf(key);
  return [scopes.length + 1, key, ...scopes];
}
