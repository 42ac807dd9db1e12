import { PassThrough } from 'node:stream';
import pg_ from 'pg';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBreakerCli } from '../../../backend/cli/breaker.js';
import type { CliIo } from '../../../backend/cli/io.js';
import type { BreakersBody } from '../../../backend/http/routes/breakers.js';
import type { StatusChangedEvent } from '../../../backend/contract/index.js';
import { startFakeProvider, type FakeProvider } from '../../fixtures/fake-provider.js';
import { startFaultProxy, type FaultProxy } from '../../fixtures/services/fault-proxy.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { api, startServer, status, tempDir, testConfig, waitFor, waitRecovered, type RunningServer } from './helpers.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';

// GET /api/breakers, the `orchestra breaker` monitor and GET /api/status following a real server
// in PostgreSQL mode.
let pg: PrivatePostgres;
let provider: FakeProvider;
let proxy: FaultProxy;
let server: RunningServer;
let database: string;
let removeData: () => void;

beforeAll(async () => {
  [pg, provider] = await Promise.all([startPostgres(), startFakeProvider({ echo: true, tokenIntervalMs: 1 })]);
  database = await pg.createDatabase();
  proxy = await startFaultProxy({ host: pg.host, port: pg.port });
  const data = tempDir('orchestra-monitor-');
  removeData = data.remove;
  server = await startServer(testConfig({ dataDir: data.dir, databaseUrl: pg.url(database, { port: proxy.port }), llmBaseUrl: provider.url }), {
    probeTargets: [],
  });
  await waitRecovered(server);
});

afterAll(async () => {
  await server?.close();
  await proxy?.close();
  removeData?.();
  await Promise.all([pg?.stop(), provider?.close()]);
});

function testIo(env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const handlers = new Map<string, () => void>();
  const io: CliIo = { stdout, stderr, cwd: process.cwd(), env, onSignal: (signal, handler) => void handlers.set(signal, handler) };
  return { io, out: () => out, err: () => err, signal: (name: string) => handlers.get(name)?.() };
}

describe('GET /api/breakers', () => {
  it('lists every breaker with its counters and the outbox', async () => {
    await api(server, 'POST', '/api/chat', { message: 'hello' });
    const { status, body } = await api<BreakersBody>(server, 'GET', '/api/breakers');
    expect(status).toBe(200);
    const names = body.breakers.map((b) => b.name);
    expect(names).toContain('postgres');
    expect(names.some((n) => n.startsWith('provider'))).toBe(true);
    expect(body.database).toMatchObject({ backend: 'postgres', mode: 'primary', breaker: 'closed' });
    expect(body.database.sync).toMatchObject({ ready: true, deadLetters: 0 });
    expect(body.database.sync?.target).toContain('***');
    expect(body.database.sync?.target).not.toContain(pg.password);
    const anonymous = await fetch(`${server.url}/api/breakers`);
    expect(anonymous.status).toBe(401);
  });
});

describe('RunningServer.reconfigure', () => {
  it('applies nothing that needs a restart, and says so', async () => {
    // (DATABASE_URL to SQLite switches live now: test/integration/postgres/live-switch.test.ts.)
    const result = await server.reconfigure({ apiPort: server.port + 1, cacheTtlSeconds: server.config.cacheTtlSeconds });
    expect(result).toEqual({ applied: [], restartRequired: ['apiPort'] });
    expect((await api<{ status: string }>(server, 'GET', '/api/status')).body.status).toBe('ok');
  });
});

describe('orchestra breaker', () => {
  it('follows the server live and exits 0 on Ctrl-C; every transition is pushed once on Socket.IO', async () => {
    const socket = connect(server.wsUrl, { path: '/ws', transports: ['websocket'], auth: { token: server.token }, reconnection: false });
    const pushed: StatusChangedEvent[] = [];
    socket.on('status:changed', (e: StatusChangedEvent) => pushed.push(e));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const t = testIo({ API_TOKEN: server.token });
    const exit = runBreakerCli(['--url', server.url, '--interval', '100'], t.io);
    await waitFor('first screen', () => t.out().includes('postgres') && t.out().includes('closed'), PATIENCE_MS);

    await proxy.setMode('refuse');
    // Writes while PostgreSQL is away: the backlog shows up on the monitor.
    for (let i = 0; i < 3; i++) await api(server, 'POST', '/api/chat', { message: `offline ${i}` });
    await waitFor('the breaker open on screen', () => /postgres\s+open/.test(t.out()), PATIENCE_MS);
    expect(t.out()).toMatch(/status: degraded/);
    expect(t.out()).toMatch(/outbox [1-9]\d*/);
    expect(t.out()).toMatch(/ECONNREFUSED|refused|terminated|timeout/i);

    await proxy.setMode('pass');
    await waitFor('closed again on screen', () => /outbox 0/.test(t.out().slice(t.out().lastIndexOf('Orchestra '))), PATIENCE_MS);
    t.signal('SIGINT');
    expect(await exit).toBe(0);
    expect(t.err()).toBe('');
    await waitFor('the close pushed', () => pushed.some((e) => e.component === 'postgres' && e.detail === 'breaker closed'), PATIENCE_MS);
    socket.disconnect();
    const postgres = pushed.filter((e) => e.component === 'postgres').map((e) => `${e.detail}:${e.status}`);
    // open → (halfOpen → open)* → halfOpen → closed, one event per transition.
    expect(postgres[0]).toBe('breaker open:degraded');
    expect(postgres[postgres.length - 1]).toBe('breaker closed:ok');
    for (let i = 1; i < postgres.length; i++) expect(postgres[i]).not.toBe(postgres[i - 1]);
  });

  it('--once prints one snapshot; a wrong token is refused with exit 2', async () => {
    const ok = testIo();
    expect(await runBreakerCli(['--url', server.url, '--token', server.token, '--once'], ok.io)).toBe(0);
    expect(ok.out()).toMatch(/BREAKER\s+STATE/);
    const bad = testIo();
    expect(await runBreakerCli(['--url', server.url, '--token', 'not-the-token-at-all', '--once'], bad.io)).toBe(2);
    expect(bad.err()).toMatch(/refused the token/);
  });
});

describe('GET /api/status in PostgreSQL mode', () => {
  it('counts writes waiting for PostgreSQL at once, even right after a read of the status', async () => {
    await waitRecovered(server);
    // This read leaves a serialized body behind that the server may serve for a second.
    expect((await status(server)).components.database.pendingSync).toBe(0);
    // Every push ends by advancing sync_clock: with its row locked, pushes wait and the writes
    // stay in the outbox (the breaker may count the waits as failures; that is not asserted).
    const lock = new pg_.Client({ connectionString: pg.url(database) });
    await lock.connect();
    try {
      await lock.query('BEGIN');
      await lock.query('SELECT seq FROM sync_clock WHERE id = 1 FOR UPDATE');
      const turn = await api<{ message: { id: string } }>(server, 'POST', '/api/chat', { message: 'written while PostgreSQL waits' });
      expect(turn.status).toBe(200);
      // The user message, the reply and the conversation are all still waiting.
      expect((await status(server)).components.database.pendingSync).toBeGreaterThan(0);
      await lock.query('ROLLBACK');
      // So "pendingSync 0" can be trusted: once it reads 0, PostgreSQL holds the reply.
      await waitRecovered(server);
      const stored = await pg.query(database, 'SELECT status FROM messages WHERE id = $1', [turn.body.message.id]);
      expect(stored).toEqual([{ status: 'complete' }]);
    } finally {
      await lock.end();
    }
  });
});
