/**
 * What each kind of setting accepts, read through the loader as a user sets it (environment,
 * config file, flags, overrides), and the exact words of the errors that name the bad one.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig, type LoadOptions } from '../../../backend/config/load.js';
import { tempDirs } from '../../fixtures/test-server.js';

const dir = tempDirs();

const load = (options: LoadOptions) => loadConfig({ cwd: dir(), env: {}, ...options });

function failure(options: LoadOptions): ConfigError {
  try {
    load(options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected the config to be refused');
}

describe('setting types', () => {
  it('lists: comma-separated or YAML lists, trimmed, blanks dropped', () => {
    expect(load({ env: { CORS_ORIGINS: ' https://a.example , ,https://b.example,' } }).config.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    const cwd = dir();
    writeFileSync(path.join(cwd, 'config.yaml'), 'allowedHosts:\n  - " box.lan "\n  - ""\n  - nas\n');
    expect(loadConfig({ cwd, env: {} }).config.allowedHosts).toEqual(['box.lan', 'nas']);
    expect(load({ env: {} }).config.corsOrigins).toEqual([]);
  });

  it('booleans: true/1/yes are true, false/0/no are false, anything else is refused', () => {
    for (const v of ['true', '1', 'yes']) expect(load({ env: { LOG_TO_FILE: v } }).config.logToFile, v).toBe(true);
    for (const v of ['false', '0', 'no']) expect(load({ env: { TRUST_PROXY: v } }).config.trustProxy, v).toBe(false);
    expect(load({ overrides: { trustProxy: true } }).config.trustProxy).toBe(true);
    expect(load({ overrides: { logToFile: false } }).config.logToFile).toBe(false);
    expect(load({}).config.logToFile).toBe(true);
    expect(failure({ env: { TRUST_PROXY: 'maybe' } }).message).toMatch(/^invalid TRUST_PROXY="maybe" from environment: expected /);
  });

  it('LLM_BASE_URL must be an http(s) URL', () => {
    expect(load({ env: { LLM_BASE_URL: 'http://127.0.0.1:11434/v1' } }).config.llmBaseUrl).toBe('http://127.0.0.1:11434/v1');
    expect(load({ env: { LLM_BASE_URL: 'https://api.example/v1' } }).config.llmBaseUrl).toBe('https://api.example/v1');
    expect(failure({ env: { LLM_BASE_URL: 'ftp://host/x?u=http://y' } }).message).toContain('expected an http(s):// URL');
    expect(failure({ env: { LLM_BASE_URL: 'not a url' } }).message).toMatch(/^invalid LLM_BASE_URL="not a url" from environment/);
  });

  it('database and Redis URLs must start with a known scheme', () => {
    for (const url of ['sqlite:///tmp/x.db', 'postgres://h/db', 'postgresql://h/db']) expect(load({ env: { DATABASE_URL: url } }).config.databaseUrl).toBe(url);
    expect(failure({ env: { DATABASE_URL: 'mysql://h/postgres://x' } }).message).toContain('expected a sqlite:///path or postgres://… URL');
    for (const url of ['memory://', 'redis://h:6379', 'rediss://h:6380']) expect(load({ env: { REDIS_URL: url } }).config.redisUrl).toBe(url);
    expect(failure({ env: { REDIS_URL: 'http://h/redis://x' } }).message).toContain('expected memory:// or a redis:// / rediss:// URL');
  });

  it('log levels and formats: any case, surrounding blanks ignored, other types refused', () => {
    expect(load({ env: { LOG_LEVEL: ' Warn ' } }).config.logLevel).toBe('warn');
    expect(load({ env: { LOG_FORMAT: ' JSON ' } }).config.logFormat).toBe('json');
    expect(load({ flags: { logFormat: 'Pretty' } }).config.logFormat).toBe('pretty');
    expect(failure({ env: { LOG_FORMAT: 'xml' } }).message).toMatch(/^invalid LOG_FORMAT="xml" from environment: expected /);
    expect(failure({ overrides: { logLevel: 5 } }).message).toMatch(/^invalid logLevel \(LOG_LEVEL\)=5 from override: expected /);
    expect(failure({ overrides: { logFormat: 5 } }).message).toMatch(/^invalid logFormat \(LOG_FORMAT\)=5 from override: expected /);
  });
});

describe('sources', () => {
  it('an empty value is no value: the layer below shows through', () => {
    const { config, sources } = load({ env: { API_PORT: '', HOST: '' } });
    expect(config.apiPort).toBe(8000);
    expect(sources.apiPort).toBe('default');
    expect(config.host).toBe('127.0.0.1');
  });

  it('flags set host, log format and log level, and say so', () => {
    const { config, sources } = load({ flags: { host: '0.0.0.0', logFormat: 'json', logLevel: 'warn', port: 9100 } });
    expect(config).toMatchObject({ host: '0.0.0.0', logFormat: 'json', logLevel: 'warn', apiPort: 9100 });
    expect(sources).toMatchObject({ host: 'command line', logFormat: 'command line', logLevel: 'command line', apiPort: 'command line' });
    expect(load({ flags: { debug: true } }).sources.logLevel).toBe('command line');
    expect(load({ flags: { debug: false } }).config.logLevel).toBe('info');
    expect(load({ env: { HOST: '10.0.0.1' }, flags: {} }).config.host).toBe('10.0.0.1');
  });

  it('.env may hold variables that are not settings; a config file may not', () => {
    const cwd = dir();
    writeFileSync(path.join(cwd, '.env'), 'NODE_OPTIONS=--max-old-space-size=512\nAPI_PORT=9200\n');
    const { config, sources } = loadConfig({ cwd, env: {} });
    expect(config.apiPort).toBe(9200);
    expect(sources.apiPort).toBe('.env');
    writeFileSync(path.join(cwd, 'config.yaml'), 'NODE_OPTIONS: x\n');
    const err = (() => {
      try {
        loadConfig({ cwd, env: {} });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    const file = path.join(cwd, 'config.yaml');
    expect(err?.message).toMatch(new RegExp(`^${file.replace(/[/.]/g, '\\$&')}: unknown setting "NODE_OPTIONS" \\(allowed: databaseUrl, redisUrl, apiPort, .* or their environment names\\)$`));
  });
});

describe('config files', () => {
  it('an empty file, or one with only comments, sets nothing', () => {
    const cwd = dir();
    writeFileSync(path.join(cwd, 'config.yaml'), '');
    expect(loadConfig({ cwd, env: {} }).config.apiPort).toBe(8000);
    writeFileSync(path.join(cwd, 'config.yaml'), '# nothing yet\n');
    const loaded = loadConfig({ cwd, env: {} });
    expect(loaded.config.apiPort).toBe(8000);
    expect(loaded.configFile).toBe(path.join(cwd, 'config.yaml'));
    expect(loadConfig({ cwd: dir(), env: {} }).configFile).toBeUndefined();
  });

  it('must be a mapping', () => {
    const cwd = dir();
    const file = path.join(cwd, 'config.yaml');
    for (const text of ['- apiPort\n- 9000\n', 'just text\n', '42\n']) {
      writeFileSync(file, text);
      expect(() => loadConfig({ cwd, env: {} }), text).toThrow(new ConfigError(`config file ${file} must be a mapping of settings`));
    }
  });

  it('names the file it could not read or parse', () => {
    const cwd = dir();
    const missing = path.join(cwd, 'missing.yaml');
    expect(() => loadConfig({ cwd, env: {}, flags: { config: 'missing.yaml' } })).toThrow(
      new RegExp(`^config file ${missing.replace(/[/.]/g, '\\$&')} cannot be read: ENOENT`),
    );
    expect(() => loadConfig({ cwd, env: { ORCHESTRA_CONFIG: 'missing.yaml' } })).toThrow(/cannot be read/);
    writeFileSync(path.join(cwd, 'bad.yaml'), 'a: [1\nb: 2\n');
    const err = failure({ cwd, flags: { config: 'bad.yaml' } });
    expect(err.message.startsWith(`config file ${path.join(cwd, 'bad.yaml')} is not valid YAML: `)).toBe(true);
    expect(err.message).not.toContain('\n');
    // The parser's first line, whole: what is wrong, not one character of it.
    expect(err.message.length - `config file ${path.join(cwd, 'bad.yaml')} is not valid YAML: `.length).toBeGreaterThan(10);
    expect(err.name).toBe('ConfigError');
  });
});

describe('error messages', () => {
  it('name the environment variable for the environment, the key and variable for files and overrides', () => {
    expect(failure({ env: { API_PORT: 'x' } }).message).toMatch(/^invalid API_PORT="x" from environment: expected .* \(HTTP port \(0 picks a free one\)\)$/);
    expect(failure({ overrides: { apiPort: 'x' } }).message).toMatch(/^invalid apiPort \(API_PORT\)="x" from override/);
    expect(failure({ flags: { port: 70000 } }).message).toMatch(/^invalid API_PORT=70000 from command line/);
  });

  it('mask passwords in the URL they show', () => {
    const message = failure({ env: { DATABASE_URL: 'mysql://u:hunter2@db/x' } }).message;
    expect(message).toContain('mysql://u:***@db/x');
    expect(message).not.toContain('hunter2');
  });
});

describe('describeConfig', () => {
  it('leaves out unset keys and shows secrets as ***', () => {
    const { config } = load({ env: { API_TOKEN: 'a'.repeat(20), REDIS_URL: 'redis://:pw123456@h:6379' } });
    const described = describeConfig(config);
    expect(described.apiToken).toBe('***');
    expect(described.redisUrl).toBe('redis://:***@h:6379');
    expect(described.apiPort).toBe(8000);
    expect(described).not.toHaveProperty('llmApiKey');
    expect(described).not.toHaveProperty('llmBaseUrl');
  });
});
