import CircuitBreaker from 'opossum';
import { EventEmitter } from 'node:events';

/**
 * Every remote dependency (model providers, PostgreSQL, Redis) sits behind one of these. They are
 * registered by name in a BreakerRegistry so that status, metrics and the `orchestra breaker`
 * monitor see all of them through one interface, and so that a state change is reported once per
 * transition rather than once per failed call.
 */
export type BreakerState = 'closed' | 'open' | 'halfOpen';

export interface BreakerOptions {
  /** Consecutive failures (or timeouts) that open the breaker. */
  threshold: number;
  /** How long an open breaker waits before letting one probe through, in ms. */
  resetTimeoutMs: number;
  /** Per-call time limit in ms; `false` disables it (the callee enforces its own). */
  timeoutMs: number | false;
  /**
   * Decides which errors count toward opening the breaker: those for which it returns true. The
   * others are passed through to the caller without counting (default: every error counts).
   */
  isFailure?: (err: unknown) => boolean;
}

export interface BreakerSnapshot {
  name: string;
  state: BreakerState;
  failures: number;
  consecutiveFailures: number;
  successes: number;
  rejects: number;
  timeouts: number;
  lastError: string | null;
  lastErrorAt: string | null;
  lastTransitionAt: string | null;
}

export interface BreakerTransition {
  name: string;
  from: BreakerState;
  to: BreakerState;
  at: string;
  lastError: string | null;
}

export type BreakerEvent = 'success' | 'failure' | 'timeout' | 'reject' | 'open' | 'halfOpen' | 'close';

export class BreakerOpenError extends Error {
  readonly code = 'circuit-open';
  constructor(readonly breaker: string) {
    super(`${breaker} is unavailable (circuit open)`);
    this.name = 'BreakerOpenError';
  }
}

export class BreakerTimeoutError extends Error {
  readonly code = 'circuit-timeout';
  constructor(readonly breaker: string, ms: number) {
    super(`${breaker} did not answer within ${ms} ms`);
    this.name = 'BreakerTimeoutError';
  }
}

/** A named breaker around arbitrary async calls: `breaker.run(() => work())`. */
export class Breaker {
  readonly name: string;
  private readonly cb: CircuitBreaker<[() => Promise<unknown>], unknown>;
  private readonly events = new EventEmitter();
  private consecutive = 0;
  private stats = { failures: 0, successes: 0, rejects: 0, timeouts: 0 };
  private lastError: string | null = null;
  private lastErrorAt: string | null = null;
  private lastTransitionAt: string | null = null;
  private current: BreakerState = 'closed';

  constructor(name: string, private readonly options: BreakerOptions) {
    this.name = name;
    this.cb = new CircuitBreaker((fn: () => Promise<unknown>) => fn(), {
      timeout: options.timeoutMs,
      resetTimeout: options.resetTimeoutMs,
      // Consecutive-failure semantics: a rolling percentage would never open under light traffic.
      volumeThreshold: options.threshold,
      errorThresholdPercentage: 100,
      rollingCountTimeout: 60_000,
      rollingCountBuckets: 10,
      allowWarmUp: false,
      // Nothing reads opossum's own statistics (snapshot() gives this class's counts). Without
      // percentiles, computing them no longer sorts every latency of the 60 s window (18 ms at
      // 78,000 calls); without snapshots, no timer computes them every 6 s.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      errorFilter: (err: unknown) => options.isFailure !== undefined && !options.isFailure(err),
    });
    this.cb.on('success', () => {
      this.consecutive = 0;
      this.stats.successes++;
      this.events.emit('event', 'success');
    });
    this.cb.on('failure', (err: unknown) => {
      this.recordFailure(err);
      this.events.emit('event', 'failure');
      // opossum counts failures over a window; we want N consecutive ones, so decide here.
      if (this.current === 'closed' && this.consecutive >= options.threshold) this.cb.open();
    });
    this.cb.on('timeout', () => {
      this.stats.timeouts++;
      this.events.emit('event', 'timeout');
    });
    this.cb.on('reject', () => {
      this.stats.rejects++;
      this.events.emit('event', 'reject');
    });
    this.cb.on('open', () => this.transition('open'));
    this.cb.on('halfOpen', () => this.transition('halfOpen'));
    this.cb.on('close', () => {
      this.consecutive = 0;
      this.transition('closed');
    });
  }

  get state(): BreakerState {
    return this.current;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return (await this.cb.fire(fn)) as T;
    } catch (err) {
      throw this.translate(err);
    }
  }

  /**
   * Closes the breaker and forgets the consecutive failures, for when the dependency itself was
   * replaced (a new URL): the old failures say nothing about the new target.
   */
  reset(): void {
    this.consecutive = 0;
    this.cb.close();
  }

  /** Records a failure observed outside `run` (for example a stream that broke midway). */
  reportFailure(err: unknown): void {
    this.recordFailure(err);
    this.events.emit('event', 'failure');
    if (this.current === 'halfOpen' || (this.current === 'closed' && this.consecutive >= this.options.threshold)) {
      this.cb.open();
    }
  }

  onTransition(listener: (t: BreakerTransition) => void): () => void {
    this.events.on('transition', listener);
    return () => this.events.off('transition', listener);
  }

  onEvent(listener: (e: BreakerEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  snapshot(): BreakerSnapshot {
    return {
      name: this.name,
      state: this.current,
      failures: this.stats.failures,
      consecutiveFailures: this.consecutive,
      successes: this.stats.successes,
      rejects: this.stats.rejects,
      timeouts: this.stats.timeouts,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      lastTransitionAt: this.lastTransitionAt,
    };
  }

  /** Stops the reset timer so a closed server leaves no handles behind. */
  shutdown(): void {
    this.cb.shutdown();
    this.events.removeAllListeners();
  }

  private recordFailure(err: unknown): void {
    this.consecutive++;
    this.stats.failures++;
    this.lastError = err instanceof Error ? err.message : String(err);
    this.lastErrorAt = new Date().toISOString();
  }

  private transition(to: BreakerState): void {
    if (to === this.current) return;
    const from = this.current;
    this.current = to;
    this.lastTransitionAt = new Date().toISOString();
    this.events.emit('event', to);
    this.events.emit('transition', { name: this.name, from, to, at: this.lastTransitionAt, lastError: this.lastError });
  }

  private translate(err: unknown): unknown {
    if (err instanceof Error) {
      const code = (err as { code?: unknown }).code;
      if (code === 'EOPENBREAKER') return new BreakerOpenError(this.name);
      if (code === 'ETIMEDOUT' && err.message.startsWith('Timed out after')) {
        return new BreakerTimeoutError(this.name, typeof this.options.timeoutMs === 'number' ? this.options.timeoutMs : 0);
      }
    }
    return err;
  }
}

/** All breakers of one server, for status, metrics and the monitor. */
export class BreakerRegistry {
  private readonly breakers = new Map<string, Breaker>();
  private readonly listeners = new Set<(t: BreakerTransition) => void>();
  private readonly eventListeners = new Set<(name: string, e: BreakerEvent) => void>();

  create(name: string, options: BreakerOptions): Breaker {
    this.breakers.get(name)?.shutdown();
    const breaker = new Breaker(name, options);
    breaker.onTransition((t) => {
      for (const l of this.listeners) l(t);
    });
    breaker.onEvent((e) => {
      for (const l of this.eventListeners) l(name, e);
    });
    this.breakers.set(name, breaker);
    return breaker;
  }

  remove(name: string): void {
    this.breakers.get(name)?.shutdown();
    this.breakers.delete(name);
  }

  get(name: string): Breaker | undefined {
    return this.breakers.get(name);
  }

  list(): Breaker[] {
    return [...this.breakers.values()];
  }

  snapshot(): BreakerSnapshot[] {
    return this.list().map((b) => b.snapshot());
  }

  onTransition(listener: (t: BreakerTransition) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onEvent(listener: (name: string, e: BreakerEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  shutdown(): void {
    for (const b of this.breakers.values()) b.shutdown();
    this.breakers.clear();
    this.listeners.clear();
    this.eventListeners.clear();
  }
}
