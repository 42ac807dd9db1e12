import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../backend/config/load.js';
import { banner, describeDatabase, NO_PROVIDER_FIX } from '../../../backend/cli/banner.js';
import { consoleSink, levelOf, prettyLine } from '../../../backend/logging/console.js';
import { createLogger } from '../../../backend/logging/logger.js';
import { tempDir } from '../../fixtures/test-server.js';

function consoleOf(format: 'pretty' | 'json', level: 'info' | 'debug' | 'warn') {
  const lines: string[] = [];
  const handle = createLogger({ level, dataDir: tempDir(), toFile: false, format, stdout: { write: (l: string) => lines.push(l) } });
  const log = handle.logger;
  log.debug({ method: 'GET', path: '/api/status', status: 200 }, 'request');
  log.info({ method: 'POST', path: '/api/chat', status: 200, ms: 12.5 }, 'request');
  log.info({ config: { apiPort: 8000, host: '127.0.0.1' } }, 'orchestra is ready');
  log.warn({ breaker: 'redis', lastError: 'connect ECONNREFUSED 127.0.0.1:6379' }, 'breaker redis is open');
  log.error({ messageId: 'm1' }, 'could not store the reply');
  return lines;
}

describe('console output', () => {
  it('pretty at info: warnings and errors only, as readable lines', () => {
    const lines = consoleOf('pretty', 'info');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d WARN {2}breaker redis is open {2}breaker=redis lastError="connect ECONNREFUSED 127\.0\.0\.1:6379"\n$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d ERROR could not store the reply {2}messageId=m1\n$/);
  });

  it('pretty at debug: every line, request lines included, and never the config dump', () => {
    const lines = consoleOf('pretty', 'debug');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/DEBUG request {2}method=GET path=\/api\/status status=200/);
    expect(lines[1]).toMatch(/INFO {2}request {2}method=POST path=\/api\/chat status=200 ms=12\.5/);
    expect(lines[2]).toMatch(/INFO {2}orchestra is ready\n$/);
    expect(lines.join('')).not.toContain('apiPort');
  });

  it('pretty at warn shows warnings; json writes every JSON line at the level', () => {
    expect(consoleOf('pretty', 'warn')).toHaveLength(2);
    const json = consoleOf('json', 'info');
    expect(json).toHaveLength(4);
    for (const l of json) expect(() => JSON.parse(l) as unknown).not.toThrow();
    expect(JSON.parse(json[1] ?? '{}')).toMatchObject({ msg: 'orchestra is ready', config: { apiPort: 8000 } });
  });

  it('reads the level of a line without parsing it', () => {
    expect(levelOf('{"level":"warn","time":"x","msg":"m"}\n')).toBe(40);
    expect(levelOf('{"level":"debug"}')).toBe(20);
    expect(levelOf('not json')).toBe(30);
    expect(prettyLine('not json')).toBe('not json\n');
    const sink: string[] = [];
    consoleSink('pretty', 'info', { write: (l: string) => sink.push(l) })('{"level":"info","msg":"hidden"}\n');
    expect(sink).toEqual([]);
  });
});

describe('the ready banner', () => {
  const config = loadConfig({ env: { DATABASE_URL: 'postgres://app:hunter2-secret@db.lan/orchestra', REDIS_URL: 'redis://:redis-pass-1@cache.lan:6379' }, cwd: tempDir() }).config;
  const base = { config, url: 'http://127.0.0.1:8000', wsUrl: 'http://127.0.0.1:8000', pairing: 'http://127.0.0.1:8000/pair?code=C', logFile: '/d/logs/backend.log', exposed: false };

  it('names the provider in use, the database and the cache, with secrets masked', () => {
    const text = banner({ ...base, provider: { id: 'p', baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2', source: 'probed', status: 'up', breaker: 'closed' } });
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('Orchestra http://127.0.0.1:8000 is ready');
    // The pairing link is one line of its own.
    expect(lines.filter((l) => l.includes('/pair'))).toEqual(['  pair a browser:  http://127.0.0.1:8000/pair?code=C']);
    expect(text).toContain('  provider:        llama3.2 at http://127.0.0.1:11434/v1 (found locally)\n');
    expect(text).toContain('  database:        PostgreSQL postgres://app:***@db.lan/orchestra');
    expect(text).toContain('  cache:           in memory + Redis redis://:***@cache.lan:6379');
    expect(text).not.toContain('hunter2-secret');
    expect(text).not.toContain('redis-pass-1');
  });

  it('shows the SQLite file as a path', () => {
    expect(describeDatabase('sqlite:////var/lib/orchestra/app.db')).toBe('SQLite /var/lib/orchestra/app.db');
    expect(describeDatabase('sqlite:///data/app.db')).toBe('SQLite data/app.db');
  });

  it('says when there is no model provider, with the one-line fix', () => {
    const text = banner({ ...base, provider: { id: null, baseUrl: null, model: null, source: 'none', status: 'down', breaker: null } });
    expect(text).toContain(`  provider:        no model provider found; ${NO_PROVIDER_FIX}\n`);
  });
});
