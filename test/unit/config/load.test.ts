import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig } from '../../../backend/config/load.js';
import { fields } from '../../../backend/config/schema.js';
import { maskUrl, registerSecret, scrubSecrets } from '../../../backend/config/secrets.js';
import { tempDir } from '../../fixtures/test-server.js';

describe('configuration', () => {
  it('uses the documented defaults', () => {
    const cwd = tempDir();
    const { config, sources } = loadConfig({ env: {}, cwd });
    expect(config.apiPort).toBe(8000);
    expect(config.websocketPort).toBe(8000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.redisUrl).toBe('memory://');
    expect(config.cacheTtlSeconds).toBe(300);
    expect(config.circuitBreakerThreshold).toBe(5);
    expect(config.logLevel).toBe('info');
    expect(config.dataDir).toBe(path.join(cwd, 'data'));
    expect(config.databaseUrl).toBe(`sqlite:///${path.join(cwd, 'data', 'app.db')}`);
    expect(sources.apiPort).toBe('default');
  });

  it('layers config file < .env < environment < flags < overrides: each layer wins over the one below', () => {
    const cwd = tempDir();
    // One key, a distinct value in every layer: removing the top layer must reveal the next one down.
    writeFileSync(path.join(cwd, 'config.yaml'), 'apiPort: 9001\nHOST: 127.0.0.2\nCACHE_TTL: 10\nlogLevel: warn\n');
    writeFileSync(path.join(cwd, '.env'), 'API_PORT=9002\nCACHE_TTL=20\n');
    const env = { API_PORT: '9003' };
    const flags = { port: '9004' };
    const layers: Array<[Parameters<typeof loadConfig>[0], number, string]> = [
      [{ env, cwd, flags, overrides: { apiPort: 9005 } }, 9005, 'override'],
      [{ env, cwd, flags }, 9004, 'command line'],
      [{ env, cwd }, 9003, 'environment'],
      [{ env: {}, cwd }, 9002, '.env'],
    ];
    for (const [options, port, source] of layers) {
      const { config, sources } = loadConfig(options);
      expect(config.apiPort, source).toBe(port);
      expect(sources.apiPort).toBe(source);
    }
    rmSync(path.join(cwd, '.env'));
    const fileOnly = loadConfig({ env: {}, cwd });
    expect(fileOnly.config.apiPort).toBe(9001);
    expect(fileOnly.sources.apiPort).toBe('config file');
    rmSync(path.join(cwd, 'config.yaml'));
    expect(loadConfig({ env: {}, cwd }).sources.apiPort).toBe('default');
  });

  it('keeps each key from the highest layer that sets it', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'config.yaml'), 'apiPort: 9001\nHOST: 127.0.0.2\nCACHE_TTL: 10\nlogLevel: warn\n');
    writeFileSync(path.join(cwd, '.env'), 'API_PORT=9002\nCACHE_TTL=20\n');
    const { config, sources } = loadConfig({ env: { API_PORT: '9003', LOG_LEVEL: 'error' }, cwd, flags: { port: '9004' } });
    expect(config.apiPort).toBe(9004);
    expect(sources.apiPort).toBe('command line');
    expect(config.cacheTtlSeconds).toBe(20);
    expect(sources.cacheTtlSeconds).toBe('.env');
    expect(config.host).toBe('127.0.0.2');
    expect(sources.host).toBe('config file');
    expect(config.logLevel).toBe('error');
    expect(sources.logLevel).toBe('environment');
    // WEBSOCKET_PORT follows API_PORT unless set
    expect(config.websocketPort).toBe(9004);
  });

  it('--debug sets the log level unless --log-level is given', () => {
    const cwd = tempDir();
    expect(loadConfig({ env: {}, cwd, flags: { debug: true } }).config.logLevel).toBe('debug');
    expect(loadConfig({ env: {}, cwd, flags: { debug: true, logLevel: 'error' } }).config.logLevel).toBe('error');
  });

  it('reads log levels in any case', () => {
    const cwd = tempDir();
    expect(loadConfig({ env: {}, cwd, flags: { logLevel: 'DEBUG' } }).config.logLevel).toBe('debug');
    expect(loadConfig({ env: { LOG_LEVEL: 'Warn' }, cwd }).config.logLevel).toBe('warn');
    writeFileSync(path.join(cwd, 'config.yaml'), 'logLevel: ERROR\n');
    expect(loadConfig({ env: {}, cwd }).config.logLevel).toBe('error');
    expect(() => loadConfig({ env: { LOG_LEVEL: 'LOUD' }, cwd })).toThrow(/LOG_LEVEL="LOUD" from environment/);
  });

  it('reads --config FILE instead of ./config.yaml', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'other.yaml'), 'REDIS_URL: redis://127.0.0.1:6390\n');
    expect(loadConfig({ env: {}, cwd, flags: { config: 'other.yaml' } }).config.redisUrl).toBe('redis://127.0.0.1:6390');
  });

  it.each([
    [{ API_PORT: 'abc' }, /API_PORT="abc" from environment: expected/],
    [{ API_PORT: '70000' }, /API_PORT="70000" from environment/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL="mysql:\/\/x\/?" from environment: expected a sqlite:\/\/\/path or postgres/],
    [{ REDIS_URL: 'http://x' }, /REDIS_URL=.* from environment: expected memory:\/\/ or a redis/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL="loud" from environment/],
    [{ API_TOKEN: 'short' }, /API_TOKEN=\*\*\* from environment: expected at least 16 characters/],
  ])('rejects %o with one line naming key, source and what is allowed', (env, message) => {
    const cwd = tempDir();
    let error: unknown;
    try {
      loadConfig({ env, cwd });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as Error).message;
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });

  it('names the config file and the key for a bad file value, and refuses unknown keys', () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'config.yaml'), 'apiPort: lots\n');
    expect(() => loadConfig({ env: {}, cwd })).toThrow(/apiPort \(API_PORT\)="lots" from config file/);
    writeFileSync(path.join(cwd, 'config.yaml'), 'apiPrt: 1\n');
    expect(() => loadConfig({ env: {}, cwd })).toThrow(/unknown setting "apiPrt"/);
    writeFileSync(path.join(cwd, 'config.yaml'), 'a: [1\n');
    expect(() => loadConfig({ env: {}, cwd })).toThrow(/not valid YAML/);
  });

  it('never shows secrets when describing the config', () => {
    const cwd = tempDir();
    const { config } = loadConfig({
      env: { API_TOKEN: 'a'.repeat(32), LLM_API_KEY: 'sk-secret-value', DATABASE_URL: 'postgres://u:hunter2@db/x' },
      cwd,
    });
    const text = JSON.stringify(describeConfig(config));
    expect(text).not.toContain('a'.repeat(32));
    expect(text).not.toContain('sk-secret-value');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('postgres://u:***@db/x');
  });

  it('masks URLs and scrubs registered secrets from any text', () => {
    expect(maskUrl('redis://:pw123456@h:6379/0')).toBe('redis://:***@h:6379/0');
    registerSecret('tok_abcdefghijkl');
    expect(scrubSecrets('{"msg":"paired with tok_abcdefghijkl"}')).toBe('{"msg":"paired with ***"}');
  });

  it('documents every key with an environment name', () => {
    for (const [key, spec] of Object.entries(fields)) {
      expect(spec.env, key).toMatch(/^[A-Z_]+$/);
      expect(spec.doc.length, key).toBeGreaterThan(5);
    }
  });
});
