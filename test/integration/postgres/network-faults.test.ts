import { afterAll, beforeAll, describe, it } from 'vitest';
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
  it.each([
    ['black hole for several seconds: nothing answers, only timeouts notice', 'blackhole'],
    ['connections refused', 'refuse'],
    ['connections reset', 'reset'],
  ] as const)('%s', async (_title, mode) => {
    await runScenario(pg, provider, mode, {
      inject: ({ proxy }) => proxy.setMode(mode),
      heal: ({ proxy }) => proxy.setMode('pass'),
    });
  });
});
