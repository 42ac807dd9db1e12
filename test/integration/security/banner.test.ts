import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../../fixtures/test-server.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';

/**
 * `orchestra serve` prints a pairing link with a one-time code and never a token's value, also
 * when the token came from API_TOKEN; `orchestra pair` asks the running server for a fresh link.
 * Both run the bundled CLI (npm run build:server).
 */
const bin = path.resolve(import.meta.dirname, '../../../bin/orchestra.js');
const children: Array<{ kill(): boolean; exited: Promise<unknown> }> = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill();
    await c.exited;
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDirFor(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

function freePort(): Promise<number> {
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
  return { child, exited, out: () => stdout, err: () => stderr, kill: () => child.kill('SIGTERM') };
}

describe('the serve banner and orchestra pair', () => {
  it('with API_TOKEN: the banner shows a one-time pairing link and never the token', async () => {
    const dataDir = dataDirFor();
    const port = await freePort();
    const token = 'env-token-0123456789-abcdefghij';
    const p = run(['serve', '--port', String(port)], { DATA_DIR: dataDir, API_TOKEN: token, LOG_TO_FILE: 'false', LLM_BASE_URL: 'http://127.0.0.1:9/v1' }, dataDir);
    children.push({ kill: p.kill, exited: p.exited });
    await waitFor(() => p.err().includes('pair a browser'), 'the ready banner', PATIENCE_MS);
    const all = p.err() + p.out();
    expect(all).not.toContain(token);
    const link = /http:\/\/127\.0\.0\.1:\d+\/pair\?code=[A-Za-z0-9_-]+/.exec(p.err())?.[0];
    expect(link).toBeDefined();
    const first = await fetch(link ?? '', { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect((await fetch(link ?? '', { redirect: 'manual' })).status).toBe(410);
  });

  it('orchestra pair prints a fresh working link, reading the owner token from DATA_DIR/api-token', async () => {
    const dataDir = dataDirFor();
    const port = await freePort();
    const env = { DATA_DIR: dataDir, API_PORT: String(port), LOG_TO_FILE: 'false', LLM_BASE_URL: 'http://127.0.0.1:9/v1' };
    const server = run(['serve'], env, dataDir);
    children.push({ kill: server.kill, exited: server.exited });
    await waitFor(() => server.err().includes('pair a browser'), 'the ready banner', PATIENCE_MS);
    const token = readFileSync(path.join(dataDir, 'api-token'), 'utf8').trim();
    expect(server.err()).not.toContain(token);

    const pair = run(['pair'], env, dataDir);
    expect(await pair.exited).toBe(0);
    const link = pair.out().trim();
    expect(link).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/pair\\?code=[A-Za-z0-9_-]+$`));
    expect(pair.out() + pair.err()).not.toContain(token);
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(303);
  });

  it('orchestra pair explains itself when no server is running', async () => {
    const dataDir = dataDirFor();
    const port = await freePort();
    const p = run(['pair'], { DATA_DIR: dataDir, API_PORT: String(port), API_TOKEN: 'x'.repeat(20) }, dataDir);
    expect(await p.exited).toBe(1);
    expect(p.err()).toMatch(/did not answer/);
  });
});
