/**
 * Fixed one-minute windows of counts per key (an address, a credential). Shared by the request
 * rate limit, the socket-event rate limit and the failed-credential lock-out, which differ only in
 * what they count and where the limit is.
 */
export class MinuteWindows {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private lastSweep: number;

  constructor(private readonly now: () => number = Date.now) {
    this.lastSweep = now();
  }

  /** Adds `by` to the key's window and returns the count so far and the seconds until it resets. */
  add(key: string, by = 1): { count: number; retryAfterSeconds: number } {
    const now = this.now();
    this.sweep(now);
    let w = this.windows.get(key);
    if (!w || now - w.start >= 60_000) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count += by;
    return { count: w.count, retryAfterSeconds: Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000)) };
  }

  /** The current count of a key without adding to it. */
  peek(key: string): { count: number; retryAfterSeconds: number } {
    const now = this.now();
    const w = this.windows.get(key);
    if (!w || now - w.start >= 60_000) return { count: 0, retryAfterSeconds: 0 };
    return { count: w.count, retryAfterSeconds: Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000)) };
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    for (const [k, w] of this.windows) if (now - w.start >= 60_000) this.windows.delete(k);
    this.lastSweep = now;
  }
}
