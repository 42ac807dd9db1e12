/**
 * Coalesces concurrent loads of one key: the first caller runs the load, everyone who arrives
 * while it runs gets the same promise. An invalidation makes later callers start a new load
 * instead of joining one that may have read the old value.
 */
export class SingleFlight {
  private readonly inflight = new Map<string, Promise<unknown>>();

  run<T>(key: string, load: () => Promise<T>): Promise<T> {
    const pending = this.inflight.get(key);
    if (pending !== undefined) return pending as Promise<T>;
    const promise: Promise<T> = (async () => load())().finally(() => {
      // A newer load for the key may have replaced this one after an invalidation.
      if (this.inflight.get(key) === promise) this.inflight.delete(key);
    });
    this.inflight.set(key, promise);
    return promise;
  }

  forget(keys: string[], prefixes: string[]): void {
    for (const k of keys) this.inflight.delete(k);
    if (prefixes.length === 0) return;
    for (const k of [...this.inflight.keys()]) if (prefixes.some((p) => k.startsWith(p))) this.inflight.delete(k);
  }

  forgetAll(): void {
    this.inflight.clear();
  }

  get size(): number {
    return this.inflight.size;
  }
}
