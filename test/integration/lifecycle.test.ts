import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { io as connectSocket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../backend/config/load.js';
import { PortInUseError } from '../../backend/http/listen.js';
import { startServer } from '../../backend/server.js';
import { startFakeProvider } from '../fixtures/fake-provider.js';
import { startTestServer, tempDir, waitFor } from '../fixtures/test-server.js';
import { PATIENCE_MS } from '../fixtures/patience.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin', 'orchestra.js');

function canListen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function run(args: string[], env: Record<string, string>, cwd: string) {
  const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

/**
 * A request that is in flight and stays so: headers and half of a JSON body on a connection the
 * server has already answered once (so it has surely been accepted). The server cannot answer it
 * until `finish()` sends the rest; a shutdown must wait for it (up to its grace time) or cut it.
 */
async function inFlightChat(port: number, token: string) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString()));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  await waitFor(() => received.includes('"status":"ok"'), 'the first answer on the held connection');
  received = '';
  const body = JSON.stringify({ message: 'sent while the server closes' });
  const half = Math.floor(body.length / 2);
  socket.write(
    `POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
  );
  return {
    closed,
    finish: () => socket.write(body.slice(half)),
    response: async () => {
      await waitFor(() => /\r\n\r\n[\s\S]*\}\s*$/.test(received), 'the answer to the held request');
      const [head = '', payload = ''] = received.split('\r\n\r\n');
      return { status: Number(head.split(' ')[1]), body: JSON.parse(payload) as { error?: { code: string } } };
    },
    destroy: () => socket.destroy(),
  };
}

describe('lifecycle', () => {
  it('close() releases the port, the database file and every handle it opened', async () => {
    const before = new Set(process.getActiveResourcesInfo());
    const t = await startTestServer();
    const port = t.server.port;
    await t.api('/api/chat', { method: 'POST', json: { message: 'x' } });
    expect(await canListen(port)).toBe(false);
    const dataDir = t.dataDir;
    await t.server.close();
    await t.provider?.close();
    expect(await canListen(port)).toBe(true);
    // better-sqlite3 checkpoints and removes the WAL when the last connection closes
    expect(existsSync(path.join(dataDir, 'app.db-wal'))).toBe(false);
    // close is idempotent
    await t.server.close();
    // A file operation started before close (a log flush, a stat) may still be completing on a busy
    // machine; a leaked handle never goes away. So wait for the list to empty, bounded.
    const leaked = (): string[] => process.getActiveResourcesInfo().filter((r) => !before.has(r) && r !== 'Timeout' && r !== 'TTYWrap');
    await expect.poll(leaked, { timeout: PATIENCE_MS, interval: 50 }).toEqual([]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('closes in order: Socket.IO clients are told to go before the HTTP listener cuts its connections', async () => {
    // The HTTP step gives in-flight requests min(SHUTDOWN_TIMEOUT_MS, 2 s) before cutting them,
    // so a held request is cut one grace period after the Socket.IO step at the earliest.
    const t = await startTestServer({ overrides: { shutdownTimeoutMs: 1000 } });
    const events: string[] = [];
    const client = connectSocket(t.server.wsUrl, { path: '/ws', transports: ['websocket'], auth: { token: t.token }, reconnection: false });
    await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('connect_error', reject));
    const disconnected = new Promise<void>((resolve) =>
      client.once('disconnect', (reason) => {
        events.push(`socket.io: ${reason}`);
        resolve();
      }),
    );
    const held = await inFlightChat(t.server.port, t.token);
    void held.closed.then(() => events.push('http: connection cut'));
    await t.server.close();
    await Promise.all([disconnected, held.closed]);
    expect(events).toEqual(['socket.io: io server disconnect', 'http: connection cut']);
    await t.close();
  });

  it('a port in use fails start-up with one clear message naming the port', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    const dataDir = tempDir();
    const { config } = loadConfig({ env: {}, cwd: dataDir, overrides: { dataDir, apiPort: port, logToFile: false, logLevel: 'silent' } });
    const error = await startServer(config, { probeTargets: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortInUseError);
    expect((error as Error).message).toMatch(new RegExp(`port ${port} on 127.0.0.1 is already in use`));
    await new Promise((r) => blocker.close(r));
    // nothing was left open: the same data dir starts fine now
    const server = await startServer({ ...config, apiPort: 0 }, { probeTargets: [] });
    await server.close();
  });

  it('writes JSON logs to DATA_DIR/logs/backend.log with secrets masked', async () => {
    const dataDir = tempDir();
    const key = 'sk-very-secret-key-123';
    // Like OpenAI, the provider repeats the rejected key in its error message, and the chat
    // service logs that message: the key reaches a log line unless the scrubber masks it.
    const t = await startTestServer({
      dataDir,
      overrides: { logToFile: true, llmApiKey: key },
      provider: { mode: 'http-error', errorStatus: 401, errorMessage: `Incorrect API key provided: ${key}` },
    });
    const chat = await t.api('/api/chat', { method: 'POST', json: { message: 'x' } });
    expect(chat.status).toBe(502);
    // A token pasted into the path lands in the request line's `path` field.
    expect((await t.api(`/api/conversations/${t.token}`)).status).toBe(404);
    // Pairing links carry one-time codes; redeeming one must not leak it either.
    await fetch((await t.server.pairingLink()).url, { redirect: 'manual' });
    await t.close();
    const text = readFileSync(path.join(dataDir, 'logs', 'backend.log'), 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; err?: string; path?: string });
    expect(lines.some((l) => l.msg === 'orchestra is ready')).toBe(true);
    expect(lines.some((l) => l.msg === 'stopped')).toBe(true);
    // The lines that carried the secrets are there, masked.
    expect(lines.find((l) => l.msg === 'model stream failed')?.err).toMatch(/Incorrect API key provided: \*\*\*/);
    expect(lines.some((l) => l.msg === 'request' && l.path === '/api/conversations/***')).toBe(true);
    expect(text).not.toContain(t.token);
    expect(text).not.toContain(key);
  });
});

// Each test spawns the CLI: on a busy machine start-up alone can take several seconds.
describe('orchestra serve', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('prints the URL and pairing link, and on %s closes in order and frees the port', async (signal) => {
    const provider = await startFakeProvider({ tokens: 10_000, tokenIntervalMs: 5 });
    const dataDir = tempDir();
    const port = await freePort();
    const p = run(['serve', '--port', String(port), '--log-format', 'json'], { DATA_DIR: dataDir, LLM_BASE_URL: provider.url, LOG_TO_FILE: 'false' }, dataDir);
    await waitFor(() => p.err().includes('pair a browser'), 'the ready banner', PATIENCE_MS);
    expect(p.err()).toContain(`http://127.0.0.1:${port}`);
    expect(p.err()).toMatch(/\/pair\?code=/);
    const token = readFileSync(path.join(dataDir, 'api-token'), 'utf8').trim();
    expect(p.err()).not.toContain(token);
    // a reply is streaming when the signal arrives: it must be stored, not lost
    const res = await fetch(`http://127.0.0.1:${port}/api/chat`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: 'long', stream: true }),
    });
    const reader = res.body?.getReader();
    await reader?.read();
    p.child.kill(signal);
    expect(await p.exited).toBe(0);
    expect(await canListen(port)).toBe(true);
    expect(p.out()).toMatch(/"msg":"stopped"/);
    const { openSqlite } = await import('../../backend/data/sqlite.js');
    const { db } = openSqlite(path.join(dataDir, 'app.db'));
    const statuses = (await db.selectFrom('messages').select('status').execute()).map((r) => r.status);
    await db.destroy();
    expect(statuses.sort()).toEqual(['complete', 'interrupted']);
    await provider.close();
  });

  it('while it closes, a new chat turn is refused with 503 shutting-down, and the process still exits 0', async () => {
    const provider = await startFakeProvider();
    const dataDir = tempDir();
    const port = await freePort();
    const p = run(['serve', '--port', String(port)], { DATA_DIR: dataDir, LLM_BASE_URL: provider.url, LOG_TO_FILE: 'false' }, dataDir);
    await waitFor(() => p.err().includes('pair a browser'), 'the ready banner', PATIENCE_MS);
    const token = readFileSync(path.join(dataDir, 'api-token'), 'utf8').trim();
    const held = await inFlightChat(port, token);
    p.child.kill('SIGTERM');
    await waitFor(() => p.err().includes('SIGTERM received, shutting down'), 'the shutdown to start');
    // The listener has stopped taking connections by now, but this request is already in: its
    // body completes after shutdown began, so the turn it asks for must be refused.
    held.finish();
    const answer = await held.response();
    expect(answer.status).toBe(503);
    expect(answer.body.error?.code).toBe('shutting-down');
    expect(await p.exited).toBe(0);
    expect(provider.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(0);
    await provider.close();
  });

  it('a second signal during shutdown exits at once with code 1', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const p = run(['serve', '--port', String(port)], { DATA_DIR: dataDir, LOG_TO_FILE: 'false', LOG_LEVEL: 'silent', SHUTDOWN_TIMEOUT_MS: '60000' }, dataDir);
    await waitFor(() => p.err().includes('pair a browser'), 'the ready banner', PATIENCE_MS);
    const token = readFileSync(path.join(dataDir, 'api-token'), 'utf8').trim();
    // Holds the HTTP step for its whole grace time (2 s): the first signal alone would exit 0 after it.
    const held = await inFlightChat(port, token);
    p.child.kill('SIGINT');
    await waitFor(() => p.err().includes('SIGINT received, shutting down'), 'the shutdown to start');
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(1);
    expect(p.err()).toContain('orchestra: SIGINT again, exiting now');
    expect(p.err()).not.toContain('shutdown took too long');
    held.destroy();
  });

  it('the console shows people the banner and then only warnings and errors; the file keeps every JSON line', async () => {
    const provider = await startFakeProvider();
    const dataDir = tempDir();
    const port = await freePort();
    const p = run(['serve', '--port', String(port)], { DATA_DIR: dataDir, LLM_BASE_URL: provider.url }, dataDir);
    await waitFor(() => p.err().includes('logs:'), 'the ready banner', PATIENCE_MS);
    expect(p.err()).toContain(`  provider:        ${provider.url} (LLM_BASE_URL)`);
    expect(p.err()).toContain(`  database:        SQLite ${path.join(dataDir, 'app.db')}`);
    expect(p.err()).toContain('  cache:           in memory');
    const token = readFileSync(path.join(dataDir, 'api-token'), 'utf8').trim();
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/api/conversations`, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
    }
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    // Nothing but the banner and the shutdown notes: no request lines, no JSON, no config dump.
    expect(p.out()).toBe('');
    expect(p.err()).not.toMatch(/[{]"level"/);
    // The token never shows up: the pairing line carries a one-time code instead.
    expect(p.err().split('\n').filter((l) => l.includes(token))).toEqual([]);
    expect(p.err().split('\n').filter((l) => l.includes('/pair?code='))).toEqual([expect.stringMatching(/^ {2}pair a browser: {2}http/)]);
    const file = readFileSync(path.join(dataDir, 'logs', 'backend.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string; route?: string });
    expect(file.filter((l) => l.msg === 'request' && l.route === '/api/conversations')).toHaveLength(3);
    expect(file.some((l) => l.msg === 'orchestra is ready')).toBe(true);
    await provider.close();
  });

  it('--log-level DEBUG (any case) puts request lines on the console too', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const p = run(['serve', '--port', String(port), '--log-level', 'DEBUG'], { DATA_DIR: dataDir, LOG_TO_FILE: 'false' }, dataDir);
    await waitFor(() => p.err().includes('logs:'), 'the ready banner', PATIENCE_MS);
    expect(p.err()).toContain('no model provider found; set LLM_BASE_URL');
    const token = readFileSync(path.join(dataDir, 'api-token'), 'utf8').trim();
    await fetch(`http://127.0.0.1:${port}/api/conversations`, { headers: { Authorization: `Bearer ${token}` } });
    await waitFor(() => /INFO {2}request {2}.*route=\/api\/conversations/.test(p.out()), 'the request line on the console');
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.out()).not.toMatch(/^[{]/m);
  });

  it('a port in use is one clear line and exit code 1', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    const dataDir = tempDir();
    const p = run(['serve', '--port', String(port)], { DATA_DIR: dataDir, LOG_TO_FILE: 'false', LOG_LEVEL: 'silent' }, dataDir);
    expect(await p.exited).toBe(1);
    expect(p.err().trim()).toBe(
      `orchestra: HTTP port ${port} on 127.0.0.1 is already in use — another Orchestra or another program is listening there; stop it or pick another port (--port, API_PORT or WEBSOCKET_PORT)`,
    );
    await new Promise((r) => blocker.close(r));
  });

  it('an invalid setting stops start-up with one line naming key, source and what is allowed (exit 2)', async () => {
    const dataDir = tempDir();
    const p = run(['serve'], { DATA_DIR: dataDir, CIRCUIT_BREAKER_THRESHOLD: 'many' }, dataDir);
    expect(await p.exited).toBe(2);
    const lines = p.err().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/CIRCUIT_BREAKER_THRESHOLD="many" from environment: expected/);
  });

  it('answers --help and unknown commands', async () => {
    const help = run(['--help'], {}, root);
    expect(await help.exited).toBe(0);
    expect(help.out()).toMatch(/serve/);
    const bad = run(['frobnicate'], {}, root);
    expect(await bad.exited).toBe(2);
    expect(bad.err()).toMatch(/unknown command "frobnicate"/);
  });
});
