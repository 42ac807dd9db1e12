/**
 * Every chat turn asks the governance engines to load (`warm`). Turns that arrive while they load
 * must not each attach a handler to the load, nor each log its failure.
 */
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { Cache } from '../../../backend/cache/cache.js';
import type { Store } from '../../../backend/data/store.js';
import type { Metrics } from '../../../backend/metrics/metrics.js';

const createGovernancePool = vi.fn((): Promise<never> => Promise.reject(new Error('the engines could not load')));
vi.mock('../../../backend/governance/pool.js', () => ({ createGovernancePool }));

const { ValidationService } = await import('../../../backend/governance/validation-service.js');

describe('warming the governance engines', () => {
  it('starts one load for any number of turns, logs its failure once, and retries after it', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const service = new ValidationService({
      configPath: undefined,
      cwd: process.cwd(),
      store: {} as unknown as Store,
      cache: {} as unknown as Cache,
      metrics: {} as unknown as Metrics,
      logger,
      timeoutMs: 1000,
    });
    const failures = (): number => lines.filter((l) => l.includes('governance engines failed to load')).length;
    for (let i = 0; i < 20; i++) service.warm();
    await vi.waitFor(() => expect(failures()).toBe(1));
    expect(createGovernancePool).toHaveBeenCalledTimes(1);

    // The failed load is forgotten: the next turn tries again, and its failure is logged again.
    for (let i = 0; i < 5; i++) service.warm();
    await vi.waitFor(() => expect(failures()).toBe(2));
    expect(createGovernancePool).toHaveBeenCalledTimes(2);
    await service.close();
  });
});
