import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeProvider } from '../../fixtures/fake-provider.js';
import { startFakeProvider } from '../../fixtures/fake-provider.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { runScenario } from './scenario.js';

// Faults of the PostgreSQL server itself, under chat load.
let pg: PrivatePostgres;
let provider: FakeProvider;

beforeAll(async () => {
  [pg, provider] = await Promise.all([startPostgres(), startFakeProvider({ echo: true, tokenIntervalMs: 1 })]);
});

afterAll(async () => {
  await Promise.all([pg?.stop(), provider?.close()]);
});

describe('PostgreSQL server faults under chat load', () => {
  it('kill -9 of PostgreSQL, then a restart (crash recovery)', async () => {
    await runScenario(pg, provider, 'kill9', {
      inject: () => pg.kill9(),
      heal: () => pg.restart(),
    });
  });

  it('wrong password (credentials rotated), healed by a live DATABASE_URL change', async () => {
    const rotated = `rotated-${Math.random().toString(36).slice(2)}`;
    await runScenario(pg, provider, 'password', {
      inject: () => pg.setPassword(rotated),
      heal: async ({ server, database, proxy }) => {
        const result = await server.reconfigure({ databaseUrl: pg.url(database, { port: proxy.port, password: rotated }) });
        expect(result).toEqual({ applied: ['databaseUrl'], restartRequired: [] });
      },
    });
  });
});
