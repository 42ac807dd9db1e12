import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../fixtures/fake-provider.js';
import { startFaultProxy } from '../../fixtures/services/fault-proxy.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { api, assertAllInPostgres, chatLoad, FAST, outboxLength, status, statusWatch, tempDir, waitFor, waitRecovered, type ApiClient } from './helpers.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';

// Orchestra itself dies (SIGKILL) with writes waiting for PostgreSQL; the restarted process
// resumes its outbox. The same child then takes a new DATABASE_URL on SIGHUP, then SQLite.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'bin', 'orchestra.js');
const TOKEN = 'crash-test-token-0123456789';

let pg: PrivatePostgres;
let provider: FakeProvider;

beforeAll(async () => {
  if (!existsSync(path.join(root, 'dist', 'backend', 'orchestra.cjs'))) {
    throw new Error('dist/backend/orchestra.cjs is missing: run "npm run build:server" (npm test builds first)');
  }
  [pg, provider] = await Promise.all([startPostgres(), startFakeProvider({ echo: true, tokenIntervalMs: 1 })]);
});

afterAll(async () => {
  await Promise.all([pg?.stop(), provider?.close()]);
});

interface Child {
  process: ChildProcess;
  server: ApiClient;
  stderr: () => string;
  exited: Promise<number | null>;
}

function writeConfig(file: string, databaseUrl: string): void {
  writeFileSync(file, `DATABASE_URL: "${databaseUrl}"\n`);
}

async function spawnOrchestra(dataDir: string, configFile: string): Promise<Child> {
  const child = spawn(process.execPath, [bin, 'serve', '--config', configFile], {
    cwd: dataDir,
    env: {
      PATH: process.env.PATH,
      DATA_DIR: dataDir,
      API_PORT: '0',
      API_TOKEN: TOKEN,
      LLM_BASE_URL: provider.url,
      // The log file (info and up) is what a failure below reports; the console (stdout) is not read.
      LOG_LEVEL: 'info',
      LOG_TO_FILE: 'true',
      CIRCUIT_BREAKER_THRESHOLD: String(FAST.circuitBreakerThreshold),
      CIRCUIT_BREAKER_RESET_MS: String(FAST.circuitBreakerResetMs),
      DB_QUERY_TIMEOUT_MS: String(FAST.dbQueryTimeoutMs),
      DB_CONNECT_TIMEOUT_MS: String(FAST.dbConnectTimeoutMs),
      DB_PULL_INTERVAL_MS: String(FAST.dbPullIntervalMs),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await waitFor(
    'orchestra serve to be ready',
    () => {
      if (child.exitCode !== null) throw new Error(`orchestra exited with ${child.exitCode}: ${stderr}`);
      return /Orchestra (http:\/\/127\.0\.0\.1:\d+) is ready/.exec(stderr)?.[1];
    },
    30_000,
  );
  return { process: child, server: { url: url as string, token: TOKEN }, stderr: () => stderr, exited };
}

/**
 * Checks that PostgreSQL holds the turns; when it does not, the error also carries what the
 * server said about its replication and the end of its log, so a failure on a loaded machine
 * can be understood from the test output alone (the data directory is removed afterwards).
 */
async function expectAllInPostgres(child: Child, dataDir: string, database: string, results: Parameters<typeof assertAllInPostgres>[2]): Promise<void> {
  try {
    await assertAllInPostgres(pg, database, results);
  } catch (err) {
    const seen = await status(child.server).catch((e: unknown) => ({ unreachable: String(e) }));
    let log = '';
    try {
      // Everything but the request lines, which would crowd out what the store said.
      const lines = readFileSync(path.join(dataDir, 'logs', 'backend.log'), 'utf8').trimEnd().split('\n');
      log = lines.filter((l) => !l.includes('"msg":"request"')).slice(-80).join('\n');
    } catch (e) {
      log = `(no log: ${String(e)})`;
    }
    // Writes PostgreSQL refused for their data leave the outbox for outbox_dead: count those too.
    const replica = new Sqlite(path.join(dataDir, 'replica.db'), { readonly: true });
    let dead: unknown;
    try {
      dead = replica.prepare('SELECT kind, count(*) AS n FROM outbox_dead GROUP BY kind').all();
    } finally {
      replica.close();
    }
    throw new Error(
      `${(err as Error).message}\nstatus: ${JSON.stringify(seen)}\noutbox rows: ${outboxLength(dataDir)}, refused rows: ${JSON.stringify(dead)}\nlog:\n${log}`,
      { cause: err },
    );
  }
}

describe('Orchestra killed with SIGKILL mid-load', () => {
  it('resumes the outbox on restart, and takes a new DATABASE_URL on SIGHUP', async () => {
    const database = await pg.createDatabase();
    const proxy = await startFaultProxy({ host: pg.host, port: pg.port });
    const data = tempDir('orchestra-crash-');
    const configFile = path.join(data.dir, 'config.yaml');
    writeConfig(configFile, pg.url(database, { port: proxy.port }));
    let child: Child | undefined;
    try {
      child = await spawnOrchestra(data.dir, configFile);
      await waitRecovered(child.server);
      await api(child.server, 'POST', '/api/chat', { message: 'warm-up' });

      const before = chatLoad(child.server, { clients: 4, tag: 'before-kill' });
      await before.progress(12);
      // PostgreSQL becomes unreachable: new writes wait in the outbox.
      await proxy.setMode('refuse');
      await waitFor('degraded', async () => (await status(child!.server)).status === 'degraded', PATIENCE_MS);
      await before.progress(20);
      child.process.kill('SIGKILL');
      await child.exited;
      await before.stop();
      const acknowledged = before.results;
      expect(acknowledged.length).toBeGreaterThan(30);
      const waiting = outboxLength(data.dir);
      expect(waiting).toBeGreaterThan(0);

      // PostgreSQL is back; a new process on the same data directory picks up the outbox.
      await proxy.setMode('pass');
      child = await spawnOrchestra(data.dir, configFile);
      const after = chatLoad(child.server, { clients: 2, tag: 'after-restart' });
      await after.progress(10);
      await after.stop();
      await waitRecovered(child.server);
      expect(after.failures).toEqual([]);
      await expectAllInPostgres(child, data.dir, database, [...acknowledged, ...after.results]);
      // Replies cut off by the kill were marked interrupted and replicated like any other write.
      expect(await pg.query(database, "SELECT count(*)::int AS n FROM messages WHERE status = 'streaming'")).toEqual([{ n: 0 }]);

      // SIGHUP: the admin moves DATABASE_URL off the proxy; then the proxy (old URL) goes away.
      writeConfig(configFile, pg.url(database));
      const stderrBefore = child.stderr().length;
      child.process.kill('SIGHUP');
      await waitFor('reload applied', () => child!.stderr().slice(stderrBefore).includes('applied databaseUrl'), PATIENCE_MS);
      await proxy.setMode('refuse');
      const watch = statusWatch(child.server);
      const moved = chatLoad(child.server, { clients: 2, tag: 'after-sighup' });
      await moved.progress(10);
      await moved.stop();
      await watch.stop();
      await waitRecovered(child.server);
      expect(moved.failures).toEqual([]);
      expect(watch.seen.has('degraded')).toBe(false);
      await expectAllInPostgres(child, data.dir, database, moved.results);

      // SIGHUP again, to SQLite: switched live, and the SQLite file holds every reply.
      const appDb = path.join(data.dir, 'app.db');
      writeConfig(configFile, `sqlite:///${appDb}`);
      const beforeSqlite = child.stderr().length;
      child.process.kill('SIGHUP');
      await waitFor('switched to SQLite', () => child!.stderr().slice(beforeSqlite).includes('applied databaseUrl'), PATIENCE_MS);
      expect((await status(child.server)).components.database.backend).toBe('sqlite');
      const file = new Sqlite(appDb, { readonly: true });
      try {
        const stored = new Set((file.prepare('SELECT id FROM messages').all() as Array<{ id: string }>).map((r) => r.id));
        expect([...acknowledged, ...after.results, ...moved.results].filter((r) => !stored.has(r.assistantId))).toEqual([]);
      } finally {
        file.close();
      }

      child.process.kill('SIGTERM');
      expect(await child.exited).toBe(0);
      expect(outboxLength(data.dir)).toBe(0);
    } finally {
      if (child && child.process.exitCode === null) child.process.kill('SIGKILL');
      await proxy.close();
      data.remove();
    }
  });
});
