import { expect } from 'vitest';
import type { FakeProvider } from '../../fixtures/fake-provider.js';
import { startFaultProxy, type FaultProxy } from '../../fixtures/services/fault-proxy.js';
import type { PrivatePostgres } from '../../fixtures/services/postgres.js';
import {
  api,
  assertAllInPostgres,
  chatLoad,
  outboxLength,
  sleep,
  startServer,
  statusWatch,
  tempDir,
  testConfig,
  waitFor,
  waitRecovered,
  type RunningServer,
} from './helpers.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';

export interface Fault {
  inject(ctx: ScenarioContext): Promise<void>;
  heal(ctx: ScenarioContext): Promise<void>;
}

export interface ScenarioContext {
  pg: PrivatePostgres;
  database: string;
  proxy: FaultProxy;
  server: RunningServer;
}

export interface ScenarioReport {
  chats: number;
  duringFault: number;
  /** Latency of the chats sent while the fault lasted. */
  p99Ms: number;
  maxMs: number;
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

/**
 * One fault under continuous chat load: clients chat through real HTTP before, during and after
 * the fault; then every chat must have succeeded, the breaker be closed with an empty outbox,
 * PostgreSQL hold every message exactly once with the content the clients got, and status must
 * have said `degraded` while the fault lasted.
 */
export async function runScenario(pg: PrivatePostgres, provider: FakeProvider, name: string, fault: Fault, faultMs = 2500): Promise<ScenarioReport> {
  const database = await pg.createDatabase();
  const proxy = await startFaultProxy({ host: pg.host, port: pg.port });
  const data = tempDir(`orchestra-${name}-`);
  const server = await startServer(
    testConfig({ dataDir: data.dir, databaseUrl: pg.url(database, { port: proxy.port }), llmBaseUrl: provider.url }),
    { probeTargets: [] },
  );
  const ctx: ScenarioContext = { pg, database, proxy, server };
  try {
    await waitRecovered(server);
    // The first chat of a fresh server is slow for reasons unrelated to the database; keep it
    // out of the latency numbers.
    await api(server, 'POST', '/api/chat', { message: `${name} warm-up` });
    const load = chatLoad(server, { clients: 4, tag: name });
    const watch = statusWatch(server);
    await load.progress(12);

    const injectedAt = Date.now();
    await fault.inject(ctx);
    const before = load.results.length;
    await waitFor('degraded status', () => watch.seen.has('degraded'), PATIENCE_MS);
    await sleep(faultMs);
    await load.progress(8);
    const duringFault = load.results.length - before;
    const healAt = Date.now();
    await fault.heal(ctx);
    const healedAt = Date.now();

    await load.progress(12);
    await load.stop();
    await watch.stop();
    await waitRecovered(server);

    expect(outboxLength(data.dir)).toBe(0);
    expect(load.failures).toEqual([]);
    expect(load.results.every((r) => r.status === 'complete')).toBe(true);
    expect(watch.seen.has('degraded')).toBe(true);
    await assertAllInPostgres(pg, database, load.results);
    const ms = load.results.filter((r) => r.at >= injectedAt && r.at <= healedAt).map((r) => r.ms);
    if (process.env.SCENARIO_DEBUG) {
      const slow = load.results.filter((r) => r.ms > 350).map((r) => ({ ms: Math.round(r.ms), at: r.at - injectedAt, heal: healAt - injectedAt, healed: healedAt - injectedAt }));
      console.info(name, 'slow', slow.slice(0, 30));
    }
    const report = { chats: load.results.length, duringFault, p99Ms: Math.round(percentile(ms, 99)), maxMs: Math.round(Math.max(...ms)) };
    // Chats really were sent while the fault lasted, or the scenario proved nothing.
    expect(report.duringFault).toBeGreaterThan(0);
    if (process.env.SCENARIO_DEBUG) console.info(name, report);
    return report;
  } finally {
    await server.close();
    await proxy.close();
    data.remove();
  }
}
