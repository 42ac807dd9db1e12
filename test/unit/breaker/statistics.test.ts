import type CircuitBreaker from 'opossum';
import { describe, expect, it } from 'vitest';
import { Breaker } from '../../../backend/breaker/breaker.js';

/** The opossum breaker inside, for what it keeps per call (not part of Breaker's interface). */
const inner = (b: Breaker): CircuitBreaker => (b as unknown as { cb: CircuitBreaker }).cb;

describe('breaker statistics', () => {
  it('counts calls for its snapshot without keeping a latency window to sort', async () => {
    const b = new Breaker('stats', { threshold: 3, resetTimeoutMs: 60_000, timeoutMs: 1_000 });
    try {
      for (let i = 0; i < 200; i++) await b.run(() => Promise.resolve(i));
      await expect(b.run(() => Promise.reject(new Error('down')))).rejects.toThrow('down');
      expect(b.snapshot()).toMatchObject({ state: 'closed', successes: 200, failures: 1 });
      // opossum's own figures: counts stay, percentiles (a sort of every latency in the window,
      // every 6 s and at each failure) are not computed.
      const own = inner(b).stats;
      expect(own.successes).toBe(200);
      expect(own.latencyMean).toBe(-1);
      expect(Object.values(own.percentiles)).toEqual(Array.from({ length: 9 }, () => -1));
    } finally {
      b.shutdown();
    }
  });
});
