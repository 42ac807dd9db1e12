import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRotatingFile } from '../../backend/logging/rotating-file.js';
import { startTestServer, tempDir, type TestServer } from '../fixtures/test-server.js';

const modeOf = (p: string): string => (statSync(p).mode & 0o777).toString(8).padStart(4, '0');

// The usual umask, which would leave new files 0644 and directories 0755.
let umask: number;
beforeAll(() => {
  umask = process.umask(0o022);
});
afterAll(() => {
  process.umask(umask);
});

describe('files the server creates are private to its user', () => {
  let t: TestServer;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = path.join(tempDir('orchestra-modes-'), 'nested', 'data');
    t = await startTestServer({ provider: false, dataDir, overrides: { logToFile: true } });
    // A write, so SQLite has its WAL and shared-memory files open.
    const res = await t.api('/api/validate', { method: 'POST', json: { code: 'const a = 1;\n', language: 'javascript' } });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await t.close();
  });

  it('the data directory (and the parents it had to create) are 0700', () => {
    expect(modeOf(dataDir)).toBe('0700');
    expect(modeOf(path.dirname(dataDir))).toBe('0700');
  });

  it('the database, its WAL and SHM files are 0600', () => {
    for (const f of ['app.db', 'app.db-wal', 'app.db-shm']) expect([f, modeOf(path.join(dataDir, f))]).toEqual([f, '0600']);
  });

  it('the token file is 0600', () => {
    expect(modeOf(path.join(dataDir, 'api-token'))).toBe('0600');
  });

  it('the logs directory is 0700 and backend.log 0600', () => {
    expect(modeOf(path.join(dataDir, 'logs'))).toBe('0700');
    expect(modeOf(path.join(dataDir, 'logs', 'backend.log'))).toBe('0600');
  });
});

describe('rotated logs', () => {
  it('keep 0600 for the current and every rotated file', async () => {
    const dir = path.join(tempDir('orchestra-rotate-'), 'logs');
    const file = path.join(dir, 'backend.log');
    const log = openRotatingFile({ file, maxBytes: 200, keep: 3 });
    for (let i = 0; i < 40; i++) {
      log.write(`${JSON.stringify({ i, msg: 'x'.repeat(40) })}\n`);
      await log.flush();
    }
    await log.close();
    expect(modeOf(dir)).toBe('0700');
    for (const f of ['backend.log', 'backend.log.1', 'backend.log.2', 'backend.log.3']) expect([f, modeOf(path.join(dir, f))]).toEqual([f, '0600']);
  });
});
