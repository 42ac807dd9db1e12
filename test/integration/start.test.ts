import { spawn } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../fixtures/test-server.js';

// `npm start` on a built tree: the staleness check and the server run in one Node process, and
// the bundle is loaded through V8's code cache, which a damaged cache file cannot break.
const root = path.resolve(import.meta.dirname, '../..');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** `node tools/start.mjs -- …` as `npm start` runs it, until /healthz answers; then SIGTERM. */
async function start(cacheDir: string): Promise<{ pid: number; logPids: number[]; code: number | null; stderr: string }> {
  const dataDir = tempDir();
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(root, 'tools', 'start.mjs'), '--port', String(port), '--log-format', 'json'], {
    cwd: root,
    env: { ...process.env, DATA_DIR: dataDir, LOG_TO_FILE: 'false', ORCHESTRA_CODE_CACHE_DIR: cacheDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 'the server to answer');
  child.kill('SIGTERM');
  const code = await exited;
  const logPids = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { pid: number }).pid);
  return { pid: child.pid ?? -1, logPids, code, stderr };
}

describe('npm start', () => {
  it('serves from the process it started (no second Node), and keeps a code cache that a damaged file cannot break', async () => {
    const cacheDir = tempDir('orchestra-code-cache-');
    const first = await start(cacheDir);
    expect(first.code).toBe(0);
    expect(first.stderr).not.toMatch(/^build:/m);
    expect(first.logPids.length).toBeGreaterThan(0);
    expect(new Set(first.logPids)).toEqual(new Set([first.pid]));
    const written = readdirSync(cacheDir).filter((f) => f.endsWith('.v8'));
    expect(written).toHaveLength(1);

    // A cache V8 refuses (truncated, another build's) is ignored and written again.
    writeFileSync(path.join(cacheDir, written[0]!), 'not a code cache');
    const second = await start(cacheDir);
    expect(second.code).toBe(0);
    expect(second.logPids).toContain(second.pid);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.v8'))).toEqual(written);
    expect(statSync(path.join(cacheDir, written[0]!)).size).toBeGreaterThan(10_000);
  });
});
