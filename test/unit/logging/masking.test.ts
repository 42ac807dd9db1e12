/**
 * Secret masking on the way to the log: the URL and secret helpers, and the logger's two layers
 * (pino's redaction of known fields, then the scrubber over every finished line), checked on
 * what reaches both the console stream and the log file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { maskUrl, passwordOf, registerSecret, scrubSecrets } from '../../../backend/config/secrets.js';
import { createLogger, type LoggerOptions } from '../../../backend/logging/logger.js';
import { tempDirs } from '../../fixtures/test-server.js';

const dir = tempDirs();

async function logged(write: (log: ReturnType<typeof createLogger>['logger']) => void, options: Partial<LoggerOptions> = {}) {
  const dataDir = dir();
  const lines: string[] = [];
  const handle = createLogger({ level: 'info', dataDir, toFile: true, format: 'json', stdout: { write: (l: string) => lines.push(l) }, ...options });
  write(handle.logger);
  await handle.close();
  const file = handle.file === undefined ? '' : readFileSync(handle.file, 'utf8');
  return { lines, file, handle, dataDir };
}

describe('maskUrl', () => {
  it('masks the password and secret-looking query parameters, nothing else', () => {
    expect(maskUrl('postgres://app:hunter2@db.lan:5432/orc')).toBe('postgres://app:***@db.lan:5432/orc');
    expect(maskUrl('https://h/x?api_key=k1&Token=t1&client_secret=s1&PASSWORD=p1&page=2')).toBe(
      'https://h/x?api_key=***&Token=***&client_secret=***&PASSWORD=***&page=2',
    );
    expect(maskUrl('redis://cache.lan:6379/0')).toBe('redis://cache.lan:6379/0');
    expect(maskUrl('https://user@h/')).toBe('https://user@h/');
    expect(maskUrl('not a url')).toBe('not a url');
  });
});

describe('passwordOf', () => {
  it('reads the decoded password of a URL, if it has one', () => {
    expect(passwordOf('postgres://app:p%40ss%2Fword@db/x')).toBe('p@ss/word');
    expect(passwordOf('postgres://app@db/x')).toBeUndefined();
    expect(passwordOf(undefined)).toBeUndefined();
    expect(passwordOf('::not a url::')).toBeUndefined();
  });
});

describe('registered secrets', () => {
  it('are scrubbed wherever they occur, every time; short values are not registered', () => {
    registerSecret('scrub-me-123456');
    registerSecret('12345');
    registerSecret(undefined);
    registerSecret('abcdef');
    expect(scrubSecrets('a scrub-me-123456 b scrub-me-123456 c')).toBe('a *** b *** c');
    expect(scrubSecrets('12345 stays, abcdef goes')).toBe('12345 stays, *** goes');
    expect(scrubSecrets('nothing to hide')).toBe('nothing to hide');
  });
});

describe('the logger', () => {
  it('masks credentials in the fields it knows, in the console stream and the file', async () => {
    const { lines, file } = await logged((log) => {
      log.info({ req: { headers: { authorization: 'Bearer req-auth-value', cookie: 'orchestra_token=req-cookie-value' } } }, 'request');
      log.info({ headers: { authorization: 'Bearer bare-auth-value', cookie: 'bare-cookie-value' } }, 'outgoing');
      log.info({ config: { apiToken: 'nested-api-token', llmApiKey: 'nested-llm-key', password: 'nested-password' } }, 'nested');
      log.info({ apiToken: 'top-api-token', llmApiKey: 'top-llm-key', password: 'top-password', token: 'top-token' }, 'top');
    });
    expect(lines).toHaveLength(4);
    for (const text of [lines.join(''), file]) {
      for (const secret of ['req-auth-value', 'req-cookie-value', 'bare-auth-value', 'bare-cookie-value', 'nested-api-token', 'nested-llm-key', 'nested-password', 'top-api-token', 'top-llm-key', 'top-password', 'top-token']) {
        expect(text).not.toContain(secret);
      }
    }
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0]).toMatchObject({ req: { headers: { authorization: '***', cookie: '***' } } });
    expect(parsed[1]).toMatchObject({ headers: { authorization: '***', cookie: '***' } });
    expect(parsed[2]).toMatchObject({ config: { apiToken: '***', llmApiKey: '***', password: '***' } });
    expect(parsed[3]).toMatchObject({ apiToken: '***', llmApiKey: '***', password: '***', token: '***' });
  });

  it('scrubs a registered secret that slipped into a message, in the console stream and the file', async () => {
    registerSecret('sk-live-slipped-key');
    const { lines, file } = await logged((log) => {
      log.warn({ err: 'provider said: invalid key sk-live-slipped-key' }, 'model stream failed for sk-live-slipped-key');
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('sk-live-slipped-key');
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ msg: 'model stream failed for ***', err: 'provider said: invalid key ***' });
    expect(file).toBe(lines[0]);
  });

  it('writes JSON lines with the level name, the pid and an ISO time, at the configured level', async () => {
    const { lines, file } = await logged(
      (log) => {
        log.info('hidden');
        log.warn({ n: 1 }, 'shown');
      },
      { level: 'warn' },
    );
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'warn', pid: process.pid, msg: 'shown', n: 1 });
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Object.keys(line)[0]).toBe('level');
    expect(file.trim().split('\n')).toHaveLength(1);
  });

  it('writes the file under DATA_DIR/logs only when asked to', async () => {
    const withFile = await logged((log) => log.info('x'));
    expect(withFile.handle.file).toBe(path.join(withFile.dataDir, 'logs', 'backend.log'));
    const without = await logged((log) => log.info('x'), { toFile: false });
    expect(without.handle.file).toBeUndefined();
    expect(without.lines).toHaveLength(1);
  });

  it('pretty console output is for people; the file keeps the JSON line', async () => {
    const { lines, file } = await logged((log) => log.error({ code: 7 }, 'broke'), { format: 'pretty' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ERROR broke {2}code=7\n$/);
    expect(JSON.parse(file)).toMatchObject({ level: 'error', msg: 'broke', code: 7 });
  });
});
