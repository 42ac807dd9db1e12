import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksumOf } from '../../../backend/data/migrate.js';
import { migrations } from '../../../backend/data/migrations/index.js';
import { postgresSearchMigrations } from '../../../backend/data/migrations/search.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { startTestServer, tempDir, waitFor, type TestServer } from '../../fixtures/test-server.js';

// PostgreSQL migrations as instances meet them: an applied migration whose text changed is
// refused at start-up, naming it; several instances starting at once on a fresh database apply
// each migration exactly once between them and all come up.
let pg: PrivatePostgres;

beforeAll(async () => {
  pg = await startPostgres();
});

afterAll(async () => {
  await pg?.stop();
});

const root = path.resolve(import.meta.dirname, '../../..');
const bin = path.join(root, 'bin', 'orchestra.js');

interface LogLine {
  msg: string;
  applied?: number[];
}

const parse = (logs: string[]): LogLine[] => logs.map((l) => JSON.parse(l) as LogLine);

describe('PostgreSQL migrations', () => {
  it('several instances starting at once on a fresh database apply each migration exactly once, and all come up', async () => {
    const database = await pg.createDatabase('concurrent');
    const url = pg.url(database);
    const count = 4;
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, i) =>
        // PostgreSQL's timeouts at the suite's patience: instances waiting for another's migration,
        // on a busy machine, must not give up and fall back to the replica (asserted below).
        startTestServer({
          provider: i === 0 ? { echo: true } : false,
          overrides: { databaseUrl: url, logLevel: 'info', dbConnectTimeoutMs: PATIENCE_MS, dbQueryTimeoutMs: PATIENCE_MS },
        }),
      ),
    );
    const servers = started.filter((s): s is PromiseFulfilledResult<TestServer> => s.status === 'fulfilled').map((s) => s.value);
    try {
      expect(started.filter((s) => s.status === 'rejected')).toEqual([]);
      expect(servers).toHaveLength(count);
      const lines = servers.map((s) => parse(s.logs));
      // Every instance reached PostgreSQL during its start (none fell back to the replica because a
      // racing migration failed), and between them each migration ran once.
      for (const l of lines) {
        expect(l.filter((x) => x.msg === 'PostgreSQL is not reachable; serving from the local replica until it is')).toEqual([]);
        expect(l.filter((x) => x.msg === 'PostgreSQL is ready')).toHaveLength(1);
      }
      const applied = lines.flatMap((l) => l.find((x) => x.msg === 'PostgreSQL is ready')?.applied ?? []);
      expect(applied.sort((a, b) => a - b)).toEqual(migrations.map((m) => m.version).sort((a, b) => a - b));
      const rows = await pg.query<{ version: number; checksum: string }>(database, 'SELECT version, checksum FROM schema_migrations ORDER BY version');
      expect(rows).toEqual(migrations.map((m) => ({ version: m.version, checksum: checksumOf(m) })).sort((a, b) => a.version - b.version));
      const search = await pg.query<{ n: string }>(database, 'SELECT count(*) AS n FROM schema_migrations_search');
      expect(Number(search[0]?.n)).toBe(postgresSearchMigrations.length);
      // And all of them serve: a conversation written on one is read on every other.
      const created = await servers[0]!.api('/api/chat', { method: 'POST', json: { message: 'made on the first' } });
      expect(created.status).toBe(200);
      const { conversationId } = (await created.json()) as { conversationId: string };
      for (const s of servers) {
        // Replication to PostgreSQL is asynchronous: the others see it once it has been pushed.
        await waitFor(async () => (await s.api(`/api/conversations/${conversationId}`)).status === 200, `the conversation on ${s.url}`);
      }
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('an applied migration whose content changed stops start-up with an error naming it', async () => {
    const database = await pg.createDatabase('edited');
    const url = pg.url(database);
    const first = await startTestServer({ provider: false, overrides: { databaseUrl: url } });
    await first.close();

    // The database was migrated by a build whose migration 2 read differently from this one.
    const target = migrations.find((m) => m.version === 2)!;
    const other = checksumOf({ ...target, statements: [...target.statements, 'SELECT 1'] });
    await pg.query(database, 'UPDATE schema_migrations SET checksum = $1 WHERE version = $2', [other, target.version]);

    await expect(startTestServer({ provider: false, overrides: { databaseUrl: url } })).rejects.toThrow(
      `migration 2 (${target.name}) was changed after it was applied; restore it and add a new migration instead`,
    );

    // The command says so in one line and exits 1; it does not fall back to the local replica.
    const dataDir = tempDir();
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0'], {
      cwd: dataDir,
      env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: url, LOG_TO_FILE: 'false', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(`orchestra: migration 2 (${target.name}) was changed after it was applied; restore it and add a new migration instead`);
    expect(stderr).not.toContain('pair a browser');

    // Its checksum back as applied: the same database starts again.
    await pg.query(database, 'UPDATE schema_migrations SET checksum = $1 WHERE version = $2', [checksumOf(target), target.version]);
    const again = await startTestServer({ provider: false, overrides: { databaseUrl: url } });
    expect((await again.api('/api/conversations')).status).toBe(200);
    await again.close();
  });
});
