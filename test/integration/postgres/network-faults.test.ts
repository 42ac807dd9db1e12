import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeProvider } from '../../fixtures/fake-provider.js';
import { startFakeProvider } from '../../fixtures/fake-provider.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { runScenario } from './scenario.js';

// Network faults between Orchestra and PostgreSQL, injected by a TCP proxy, under chat load.
let pg: PrivatePostgres;
let provider: FakeProvider;

beforeAll(async () => {
  [pg, provider] = await Promise.all([startPostgres(), startFakeProvider({ echo: true, tokenIntervalMs: 1 })]);
});

afterAll(async () => {
  await Promise.all([pg?.stop(), provider?.close()]);
});

describe('PostgreSQL network faults under chat load', () => {
  it('black hole for several seconds: nothing answers, only timeouts notice', async () => {
    const report = await runScenario(pg, provider, 'blackhole', {
      inject: ({ proxy }) => proxy.setMode('blackhole'),
      heal: ({ proxy }) => proxy.setMode('pass'),
    });
    expect(report.duringFault).toBeGreaterThan(0);
    if (process.env.SCENARIO_DEBUG) console.info('blackhole', report);
  }, 90_000);

  it('connections refused', async () => {
    const report = await runScenario(pg, provider, 'refuse', {
      inject: ({ proxy }) => proxy.setMode('refuse'),
      heal: ({ proxy }) => proxy.setMode('pass'),
    });
    expect(report.duringFault).toBeGreaterThan(0);
    if (process.env.SCENARIO_DEBUG) console.info('refuse', report);
  }, 90_000);

  it('connections reset', async () => {
    const report = await runScenario(pg, provider, 'reset', {
      inject: ({ proxy }) => proxy.setMode('reset'),
      heal: ({ proxy }) => proxy.setMode('pass'),
    });
    expect(report.duringFault).toBeGreaterThan(0);
    if (process.env.SCENARIO_DEBUG) console.info('reset', report);
  }, 90_000);
});
