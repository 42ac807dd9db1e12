import { afterEach, describe, expect, it } from 'vitest';
import { BreakerRegistry } from '../../../backend/breaker/breaker.js';
import { createMetrics, type Metrics } from '../../../backend/metrics/metrics.js';

const stateLines = async (metrics: Metrics, breaker: string): Promise<string[]> =>
  (await metrics.registry.metrics()).split('\n').filter((line) => line.startsWith(`orchestra_breaker_state{breaker="${breaker}"`));

const fail = (): Promise<never> => Promise.reject(new Error('down'));

/** The three series of a breaker in `state`, as /metrics shows them. */
const shown = (breaker: string, state: 'closed' | 'open' | 'halfOpen'): string[] =>
  (['closed', 'open', 'halfOpen'] as const).map((s) => `orchestra_breaker_state{breaker="${breaker}",state="${s}"} ${s === state ? 1 : 0}`);

/** The breaker state gauges follow every breaker of the registry, including ones made later. */
describe('breaker state gauges', () => {
  let metrics: Metrics | undefined;
  const registries: BreakerRegistry[] = [];
  afterEach(() => {
    metrics?.close();
    for (const r of registries.splice(0)) r.shutdown();
  });

  const setUp = (): { metrics: Metrics; breakers: BreakerRegistry } => {
    metrics = createMetrics();
    const breakers = new BreakerRegistry();
    registries.push(breakers);
    metrics.trackBreakers(breakers);
    return { metrics, breakers };
  };

  it('a breaker made after tracking began shows its state from its first call', async () => {
    const { metrics, breakers } = setUp();
    const b = breakers.create('late', { threshold: 2, resetTimeoutMs: 60_000, timeoutMs: false });
    expect(await stateLines(metrics, 'late')).toEqual([]);
    await b.run(() => Promise.resolve(1));
    expect(await stateLines(metrics, 'late')).toEqual(shown('late', 'closed'));
  });

  it('follows a breaker that opens, and stays as shown while calls leave the state alone', async () => {
    const { metrics, breakers } = setUp();
    const b = breakers.create('dep', { threshold: 2, resetTimeoutMs: 60_000, timeoutMs: false });
    await b.run(() => Promise.resolve(1));
    await b.run(() => Promise.resolve(1));
    await expect(b.run(fail)).rejects.toThrow('down');
    expect(await stateLines(metrics, 'dep')).toContain('orchestra_breaker_state{breaker="dep",state="closed"} 1');
    await expect(b.run(fail)).rejects.toThrow('down');
    expect(await stateLines(metrics, 'dep')).toEqual(shown('dep', 'open'));
  });

  it('a forgotten breaker loses its series, and shows them again from its next call', async () => {
    const { metrics, breakers } = setUp();
    const b = breakers.create('gone', { threshold: 2, resetTimeoutMs: 60_000, timeoutMs: false });
    await b.run(() => Promise.resolve(1));
    metrics.forgetBreaker('gone');
    expect(await stateLines(metrics, 'gone')).toEqual([]);
    // The same name again (a live switch back): its first call publishes the state anew.
    const again = breakers.create('gone', { threshold: 2, resetTimeoutMs: 60_000, timeoutMs: false });
    await again.run(() => Promise.resolve(1));
    expect(await stateLines(metrics, 'gone')).toContain('orchestra_breaker_state{breaker="gone",state="closed"} 1');
  });
});
