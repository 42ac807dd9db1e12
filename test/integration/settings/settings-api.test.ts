import { rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { SettingsBody, SettingsUpdateBody } from '../../../backend/contract/settings.js';
import { settingsDbPath } from '../../../backend/data/settings-store.js';
import { settingsKeyPath } from '../../../backend/settings/secret-box.js';
import { rawRequest } from '../security/helpers.js';
import { handshake, settingsHarness, type SettingsServer } from './harness.js';

const h = settingsHarness();
afterEach(() => h.cleanup());

const API_KEY = 'sk-stored-secret-4b1d9e77';

async function read(s: SettingsServer): Promise<SettingsBody['settings']> {
  const res = await s.api('/api/settings');
  expect(res.status).toBe(200);
  return ((await res.json()) as SettingsBody).settings;
}

async function patch(s: SettingsServer, body: unknown): Promise<{ status: number; body: SettingsUpdateBody & { error?: { code: string; message: string } } }> {
  const res = await s.api('/api/settings', { method: 'PATCH', json: body });
  return { status: res.status, body: (await res.json()) as SettingsUpdateBody & { error?: { code: string; message: string } } };
}

async function chat(s: SettingsServer, message = 'hello'): Promise<void> {
  const res = await s.api('/api/chat', { method: 'POST', json: { message } });
  expect(res.status).toBe(200);
  await res.json();
}

function rawRows(dataDir: string): Array<{ key: string; value: string; encrypted: number }> {
  const db = new Sqlite(settingsDbPath(dataDir), { readonly: true });
  try {
    return db.prepare('SELECT key, value, encrypted FROM settings').all() as Array<{ key: string; value: string; encrypted: number }>;
  } finally {
    db.close();
  }
}

describe('GET /api/settings', () => {
  it('reports each changeable setting with its value and source: default, file, env (locked), flag (locked), stored', async () => {
    const provider = await h.provider();
    const dir = h.dir();
    writeFileSync(path.join(dir, 'config.yaml'), `llmBaseUrl: ${provider.url}\n`);
    writeFileSync(path.join(dir, '.env'), 'REDIS_URL=memory://\n');
    const s = await h.start({
      dataDir: dir,
      env: { LLM_API_KEY: 'sk-from-the-environment-1234' },
      // No command-line flag sets these keys, so the flag source is given as the CLI would pass it.
      sources: { corsOrigins: 'command line' },
    });
    expect((await patch(s, { llmModel: 'fake-model-2' })).status).toBe(200);
    const settings = await read(s);
    expect(Object.keys(settings).sort()).toEqual(['corsOrigins', 'databaseUrl', 'llmApiKey', 'llmBaseUrl', 'llmModel', 'redisUrl']);
    expect(settings.llmBaseUrl).toEqual({ value: provider.url, source: 'file', locked: false });
    expect(settings.llmApiKey).toEqual({ value: { set: true }, source: 'env', locked: true });
    expect(settings.llmModel).toEqual({ value: 'fake-model-2', source: 'stored', locked: false });
    expect(settings.redisUrl).toEqual({ value: 'memory://', source: 'env', locked: true });
    expect(settings.databaseUrl).toEqual({ value: `sqlite:///${path.join(dir, 'app.db')}`, source: 'default', locked: false });
    expect(settings.corsOrigins).toEqual({ value: [], source: 'flag', locked: true });
    const text = JSON.stringify(settings);
    expect(text).not.toContain('sk-from-the-environment-1234');
  });

  it('needs a credential (401) of admin scope (403 for a user token)', async () => {
    const s = await h.start();
    expect((await s.api('/api/settings', { token: false })).status).toBe(401);
    expect((await s.api('/api/settings', { method: 'PATCH', token: false, json: { llmModel: 'x' } })).status).toBe(401);
    const created = (await (await s.api('/api/tokens', { method: 'POST', json: { name: 'viewer', scope: 'user' } })).json()) as { token: string };
    const get = await s.api('/api/settings', { token: created.token });
    expect(get.status).toBe(403);
    expect(((await get.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    const res = await s.api('/api/settings', { method: 'PATCH', token: created.token, json: { llmModel: 'x' } });
    expect(res.status).toBe(403);
    expect(rawRows(s.dataDir)).toEqual([]);
    // The token works elsewhere: the refusal is about scope.
    expect((await s.api('/api/conversations', { token: created.token })).status).toBe(200);
  });
});

describe('PATCH /api/settings', () => {
  it('refuses a value fixed by the environment or a flag with 409 setting-locked, storing nothing', async () => {
    const s = await h.start({ env: { LLM_MODEL: 'env-model' }, sources: { corsOrigins: 'command line' } });
    const env = await patch(s, { llmModel: 'other' });
    expect(env.status).toBe(409);
    expect(env.body.error?.code).toBe('setting-locked');
    expect(env.body.error?.message).toContain('LLM_MODEL');
    const flag = await patch(s, { corsOrigins: ['https://a.example'] });
    expect(flag.status).toBe(409);
    expect(flag.body.error?.message).toContain('flag');
    // A request with a locked key changes nothing, not even its other keys.
    expect((await patch(s, { llmBaseUrl: 'http://127.0.0.1:9/v1', llmModel: 'other' })).status).toBe(409);
    expect(rawRows(s.dataDir)).toEqual([]);
    expect((await read(s)).llmModel).toEqual({ value: 'env-model', source: 'env', locked: true });
    const refusals = s.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === 'settings-refused');
    expect(refusals[0]).toMatchObject({ credential: 'owner', code: 'setting-locked', field: 'llmModel' });
  });

  it.each([
    [{ llmBaseUrl: 'ftp://example.com' }, 'llmBaseUrl'],
    [{ redisUrl: 'http://127.0.0.1:6379' }, 'redisUrl'],
    [{ databaseUrl: 'mysql://x' }, 'databaseUrl'],
    [{ corsOrigins: '*' }, 'corsOrigins'],
    [{ corsOrigins: ['https://ok.example', 'https://bad.example/path'] }, 'corsOrigins'],
    [{ llmModel: 42 }, 'llmModel'],
    [{ theme: 'dark' }, 'theme'],
    [{ apiPort: 9000 }, 'apiPort'],
    [{}, 'no settings'],
    [['llmModel'], 'JSON object'],
  ])('answers 400 naming the key for %j', async (body, named) => {
    const s = await h.start();
    const res = await patch(s, body);
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('invalid-request');
    expect(res.body.error?.message).toContain(named);
    expect(rawRows(s.dataDir)).toEqual([]);
  });

  it('never echoes a refused secret in the error', async () => {
    const s = await h.start();
    const res = await patch(s, { llmApiKey: '', llmBaseUrl: 'not a url sk-secret-in-url-value' });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toContain('sk-secret-in-url-value');
  });

  it('switches the model provider live: the next chat goes to the new provider with the new key and model', async () => {
    const first = await h.provider();
    const second = await h.provider();
    const s = await h.start({ overrides: { llmBaseUrl: first.url } });
    await chat(s);
    expect(first.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(1);

    const res = await patch(s, { llmBaseUrl: second.url, llmApiKey: API_KEY, llmModel: 'fake-model-2' });
    expect(res.status).toBe(200);
    expect(res.body.applied.sort()).toEqual(['llmApiKey', 'llmBaseUrl', 'llmModel']);
    expect(res.body.restartRequired).toEqual([]);
    expect(res.body.settings.llmBaseUrl).toEqual({ value: second.url, source: 'stored', locked: false });
    expect(res.body.settings.llmApiKey).toEqual({ value: { set: true }, source: 'stored', locked: false });

    await chat(s, 'after the change');
    const calls = second.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(calls).toHaveLength(1);
    expect(calls[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect((calls[0]?.body as { model?: string }).model).toBe('fake-model-2');
    expect(first.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(1);
  });

  it('clears a stored value with null or "" back to the file or default value', async () => {
    const provider = await h.provider();
    const dir = h.dir();
    writeFileSync(path.join(dir, 'config.yaml'), `llmBaseUrl: ${provider.url}\nllmModel: file-model\n`);
    const s = await h.start({ dataDir: dir });
    expect((await patch(s, { llmModel: 'stored-model', corsOrigins: 'https://a.example, https://b.example' })).status).toBe(200);
    expect((await read(s)).corsOrigins).toEqual({ value: ['https://a.example', 'https://b.example'], source: 'stored', locked: false });
    const cleared = await patch(s, { llmModel: null, corsOrigins: '' });
    expect(cleared.status).toBe(200);
    expect(cleared.body.settings.llmModel).toEqual({ value: 'file-model', source: 'file', locked: false });
    expect(cleared.body.settings.corsOrigins).toEqual({ value: [], source: 'default', locked: false });
    expect(rawRows(s.dataDir)).toEqual([]);
    await chat(s);
    expect((provider.requests.at(-1)?.body as { model?: string }).model).toBe('file-model');
  });

  it('applies CORS_ORIGINS live to HTTP preflights and to the Socket.IO handshake, both ways', async () => {
    const s = await h.start();
    const origin = 'https://frontend.example';
    const preflight = (): Promise<Response> =>
      fetch(`${s.server.url}/api/status`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' },
      });
    const polling = (): Promise<{ status: number; body: string }> =>
      rawRequest(s.server.wsUrl, { path: '/ws/?EIO=4&transport=polling', headers: { Origin: origin, Authorization: `Bearer ${s.server.token}` } });
    expect((await preflight()).status).toBe(403);
    expect((await polling()).body).toContain('origin-not-allowed');
    expect(await handshake(h.socket(s.server.wsUrl, s.server.token, origin))).not.toBe('connected');

    const res = await patch(s, { corsOrigins: [origin] });
    expect(res.status).toBe(200);
    expect(res.body.applied).toEqual(['corsOrigins']);
    const allowed = await preflight();
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(origin);
    const get = await s.api('/api/status', { headers: { Origin: origin } });
    expect(get.headers.get('access-control-allow-origin')).toBe(origin);
    expect(await handshake(h.socket(s.server.wsUrl, s.server.token, origin))).toBe('connected');
    expect((await polling()).status).toBe(200);

    expect((await patch(s, { corsOrigins: null })).status).toBe(200);
    expect((await preflight()).status).toBe(403);
    expect((await polling()).body).toContain('origin-not-allowed');
    expect(await handshake(h.socket(s.server.wsUrl, s.server.token, origin))).not.toBe('connected');
  });

  it('logs every change with the credential name, secrets masked', async () => {
    const provider = await h.provider();
    const s = await h.start({ overrides: { llmBaseUrl: provider.url } });
    const created = (await (await s.api('/api/tokens', { method: 'POST', json: { name: 'ops-admin', scope: 'admin' } })).json()) as { token: string };
    const res = await s.api('/api/settings', { method: 'PATCH', token: created.token, json: { llmApiKey: API_KEY, llmModel: 'fake-model' } });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).not.toContain(API_KEY);
    const audit = s.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.audit === 'settings-changed');
    expect(audit).toMatchObject({
      credential: 'ops-admin',
      credentialKind: 'token',
      changes: [
        { setting: 'llmApiKey', from: 'unset', to: 'set', source: 'stored' },
        { setting: 'llmModel', from: null, to: 'fake-model', source: 'stored' },
      ],
    });
    await chat(s);
    expect(provider.requests.at(-1)?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(s.logs.join('\n')).not.toContain(API_KEY);
  });
});

describe('RunningServer.reconfigure (SIGHUP, the desktop app) with stored settings', () => {
  it('keeps stored values over the file values it passes, and applies the rest live', async () => {
    const provider = await h.provider();
    const s = await h.start({ overrides: { llmBaseUrl: provider.url } });
    expect((await patch(s, { llmModel: 'fake-model-2' })).status).toBe(200);
    const result = await s.server.reconfigure({ llmBaseUrl: provider.url, llmModel: 'file-model', corsOrigins: ['https://desk.example'] });
    expect(result).toEqual({ applied: ['corsOrigins'], restartRequired: [] });
    const settings = await read(s);
    expect(settings.llmModel).toEqual({ value: 'fake-model-2', source: 'stored', locked: false });
    expect(settings.corsOrigins).toEqual({ value: ['https://desk.example'], source: 'default', locked: false });
    await chat(s);
    expect((provider.requests.at(-1)?.body as { model?: string }).model).toBe('fake-model-2');
    // Cleared, the stored value gives way to the one the reconfigure passed, live.
    const cleared = await patch(s, { llmModel: null });
    expect(cleared.body.settings.llmModel.value).toBe('file-model');
    expect(cleared.body.applied).toEqual(['llmModel']);
  });
});

describe('stored settings at rest and across restarts', () => {
  it('keeps secrets encrypted in the database under a 0600 key file, and survives a restart', async () => {
    const provider = await h.provider();
    const dir = h.dir();
    const s1 = await h.start({ dataDir: dir, overrides: { llmBaseUrl: provider.url } });
    const res = await patch(s1, { llmApiKey: API_KEY, llmModel: 'fake-model-2', redisUrl: 'redis://:redis-pass-77aa@127.0.0.1:1/0' });
    expect(res.status).toBe(200);
    // REDIS_URL switches live, even to a Redis that is down: the cache never waits for Redis.
    expect(res.body.applied).toContain('redisUrl');
    expect(res.body.restartRequired).not.toContain('redisUrl');
    expect(res.body.settings.redisUrl.value).toBe('redis://:***@127.0.0.1:1/0');
    // A PATCH that sends the masked URL back keeps the stored password.
    expect((await patch(s1, { redisUrl: 'redis://:***@127.0.0.1:2/0' })).status).toBe(200);

    const rows = rawRows(dir);
    const raw = JSON.stringify(rows);
    expect(rows.map((r) => r.key).sort()).toEqual(['llmApiKey', 'llmModel', 'redisUrl']);
    expect(raw).not.toContain(API_KEY);
    expect(raw).not.toContain('redis-pass-77aa');
    expect(rows.find((r) => r.key === 'llmApiKey')?.encrypted).toBe(1);
    expect(rows.find((r) => r.key === 'llmModel')).toMatchObject({ value: '"fake-model-2"', encrypted: 0 });
    expect(statSync(settingsKeyPath(dir)).mode & 0o777).toBe(0o600);
    expect(statSync(settingsDbPath(dir)).mode & 0o777).toBe(0o600);
    await s1.close();

    // The environment no longer names a provider model or key: the stored ones apply from the start.
    const s2 = await h.start({ dataDir: dir, overrides: { llmBaseUrl: provider.url, redisUrl: undefined } });
    const settings = await read(s2);
    expect(settings.llmApiKey).toEqual({ value: { set: true }, source: 'stored', locked: false });
    expect(settings.llmModel).toEqual({ value: 'fake-model-2', source: 'stored', locked: false });
    expect(s2.server.config.redisUrl).toBe('redis://:redis-pass-77aa@127.0.0.1:2/0');
    await chat(s2);
    const last = provider.requests.at(-1);
    expect(last?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect((last?.body as { model?: string }).model).toBe('fake-model-2');
    expect(s2.logs.join('\n')).not.toContain(API_KEY);
    expect(s2.logs.join('\n')).not.toContain('redis-pass-77aa');
  });

  it('a stored value loses to the environment after a restart, and shows as locked', async () => {
    const dir = h.dir();
    const s1 = await h.start({ dataDir: dir });
    expect((await patch(s1, { llmModel: 'stored-model' })).status).toBe(200);
    await s1.close();
    const s2 = await h.start({ dataDir: dir, env: { LLM_MODEL: 'env-model' } });
    expect((await read(s2)).llmModel).toEqual({ value: 'env-model', source: 'env', locked: true });
    expect(s2.server.config.llmModel).toBe('env-model');
    expect(s2.logs.some((l) => l.includes('overruled by the environment'))).toBe(true);
  });

  it('a stored DATABASE_URL takes effect at the next start', async () => {
    const dir = h.dir();
    const s1 = await h.start({ dataDir: dir });
    const other = `sqlite:///${path.join(dir, 'other.db')}`;
    const res = await patch(s1, { databaseUrl: other });
    expect(res.status).toBe(200);
    expect(res.body.settings.databaseUrl).toEqual({ value: other, source: 'stored', locked: false });
    await s1.close();
    const s2 = await h.start({ dataDir: dir });
    expect(s2.server.config.databaseUrl).toBe(other);
    expect(statSync(path.join(dir, 'other.db')).isFile()).toBe(true);
  });

  it.each([
    ['a different key', (dir: string) => writeFileSync(settingsKeyPath(dir), `${Buffer.alloc(32, 7).toString('base64')}\n`), 200],
    ['an empty key file', (dir: string) => writeFileSync(settingsKeyPath(dir), ''), 500],
  ])('with %s, a stored secret is logged as unreadable and treated as unset; the server starts', async (_what, damage, saveAgain) => {
    const dir = h.dir();
    const s1 = await h.start({ dataDir: dir });
    expect((await patch(s1, { llmApiKey: API_KEY, llmModel: 'kept-model' })).status).toBe(200);
    await s1.close();
    damage(dir);
    const s2 = await h.start({ dataDir: dir });
    const settings = await read(s2);
    expect(settings.llmApiKey).toEqual({ value: { set: false }, source: 'default', locked: false });
    expect(settings.llmModel).toEqual({ value: 'kept-model', source: 'stored', locked: false });
    expect(s2.server.config.llmApiKey).toBeUndefined();
    const error = s2.logs.map((l) => JSON.parse(l) as { level: string; setting?: string; msg: string }).find((l) => l.setting === 'llmApiKey');
    expect(error?.level).toBe('error');
    expect(error?.msg).toMatch(/cannot be read .*settings\.key/);
    // Saving a secret again uses the key file as it is; a damaged one is never replaced silently.
    const again = await patch(s2, { llmApiKey: API_KEY });
    expect(again.status).toBe(saveAgain);
    if (saveAgain === 500) expect(again.body.error?.message).toContain('settings.key');
    expect(JSON.stringify(again.body)).not.toContain(API_KEY);
  });

  it('a missing key file is reported as missing', async () => {
    const dir = h.dir();
    const s1 = await h.start({ dataDir: dir });
    expect((await patch(s1, { llmApiKey: API_KEY })).status).toBe(200);
    await s1.close();
    rmSync(settingsKeyPath(dir));
    const s2 = await h.start({ dataDir: dir });
    expect((await read(s2)).llmApiKey.value).toEqual({ set: false });
    expect(s2.logs.some((l) => l.includes('settings.key is missing'))).toBe(true);
  });
});
