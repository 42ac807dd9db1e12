import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../../fixtures/services/fault-proxy.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { SCHEDULING_SLACK_MS } from '../../fixtures/patience.js';
import { tempDir, waitFor } from '../../fixtures/test-server.js';

// The shutdown contract's last resort: a step that hangs past the hard limit does not hang the
// terminal. PostgreSQL that stops answering mid-query is a real way to get one: closing the pool
// waits for the query in flight, and with a long DB_QUERY_TIMEOUT_MS nothing else ends it.
let pg: PrivatePostgres;
let proxy: FaultProxy;

beforeAll(async () => {
  pg = await startPostgres();
  proxy = await startFaultProxy({ host: pg.host, port: pg.port });
});

afterAll(async () => {
  await proxy?.close();
  await pg?.stop();
});

const bin = path.resolve(import.meta.dirname, '../../..', 'bin', 'orchestra.js');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('orchestra serve: forced exit', () => {
  it('a shutdown step that hangs past SHUTDOWN_HARD_LIMIT_MS ends the process with code 1, and says which step in the console and the log', async () => {
    const database = await pg.createDatabase('forced');
    const dataDir = tempDir();
    const port = await freePort();
    // Past the HTTP step's own grace (2 s, for the request cut above), so the database step is the one left hanging.
    const hardLimitMs = 4000;
    // Each step alone would wait longer than the hard limit plus a loaded machine's scheduling:
    // only the hard limit can end this shutdown in time.
    const stepLimitMs = hardLimitMs + 2 * SCHEDULING_SLACK_MS;
    const child = spawn(process.execPath, [bin, 'serve', '--port', String(port)], {
      cwd: dataDir,
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        DATABASE_URL: pg.url(database, { host: proxy.host, port: proxy.port }),
        DB_QUERY_TIMEOUT_MS: String(stepLimitMs),
        DB_CONNECT_TIMEOUT_MS: '20000',
        DB_PULL_INTERVAL_MS: '100',
        SHUTDOWN_TIMEOUT_MS: String(stepLimitMs),
        SHUTDOWN_HARD_LIMIT_MS: String(hardLimitMs),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => stderr.includes('pair a browser'), 'the ready banner');
      // PostgreSQL stops answering; a read sends its query into the void and waits (so does the
      // next pull). The request is cut by the HTTP step; the query holds the database step.
      await proxy.setMode('blackhole');
      const before = proxy.swallowed();
      const token = readFileSync(path.join(dataDir, 'api-token'), 'utf8').trim();
      const pending = fetch(`http://127.0.0.1:${port}/api/conversations`, { headers: { Authorization: `Bearer ${token}` } }).catch(() => undefined);
      await waitFor(() => proxy.swallowed() > before, 'a PostgreSQL query left waiting');

      const signalledAt = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(1);
      await pending;
      const elapsed = Date.now() - signalledAt;
      // It waited for the hard limit, and ended long before any step's own limit would have.
      expect(elapsed).toBeGreaterThanOrEqual(hardLimitMs);
      expect(elapsed).toBeLessThan(hardLimitMs + SCHEDULING_SLACK_MS);
      expect(stderr).toContain('orchestra: SIGTERM received, shutting down');
      expect(stderr).toContain(
        `orchestra: shutdown took too long (over ${hardLimitMs} ms, SHUTDOWN_HARD_LIMIT_MS), exiting with code 1 (still on step "database")`,
      );
      const lines = readFileSync(path.join(dataDir, 'logs', 'backend.log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { msg: string; level: string; reason?: string; step?: string; hardLimitMs?: number; elapsedMs?: number });
      const forced = lines.filter((l) => l.msg === 'forced exit during shutdown');
      expect(forced).toEqual([expect.objectContaining({ level: 'error', reason: 'hard limit', step: 'database', hardLimitMs })]);
      expect(forced[0]?.elapsedMs).toBeGreaterThanOrEqual(hardLimitMs);
      // The orderly steps before it ran; the last line of a clean stop never came.
      expect(lines.some((l) => l.msg === 'shutting down')).toBe(true);
      expect(lines.some((l) => l.msg === 'stopped')).toBe(false);
    } finally {
      child.kill('SIGKILL');
      await exited;
      await proxy.setMode('pass');
    }
  });
});
