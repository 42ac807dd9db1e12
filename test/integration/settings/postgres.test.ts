import Sqlite from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SettingsBody, SettingsUpdateBody, StatusBody } from '../../../backend/contract/index.js';
import { settingsDbPath } from '../../../backend/data/settings-store.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';
import { startPostgres, type PrivatePostgres } from '../../fixtures/services/postgres.js';
import { FAST } from '../postgres/helpers.js';
import { settingsHarness, type SettingsServer } from './harness.js';

/**
 * PostgreSQL mode: settings are stored in the instance's own settings.db (never in the shared
 * database, which other instances read), applied live, and kept across a restart; a new
 * PostgreSQL URL sent back with its password masked reconnects with the stored password.
 */
let pg: PrivatePostgres;
const h = settingsHarness();
beforeAll(async () => {
  pg = await startPostgres();
});
afterEach(() => h.cleanup());
afterAll(async () => {
  await pg?.stop();
});

const API_KEY = 'sk-postgres-mode-secret-91c2';

async function patch(s: SettingsServer, body: unknown): Promise<{ status: number; body: SettingsUpdateBody }> {
  const res = await s.api('/api/settings', { method: 'PATCH', json: body });
  return { status: res.status, body: (await res.json()) as SettingsUpdateBody };
}

describe('settings in PostgreSQL mode', () => {
  it('stores locally, applies the provider and a new PostgreSQL URL live, and keeps both across a restart', async () => {
    const provider = await h.provider();
    const first = await pg.createDatabase('settings_a');
    const second = await pg.createDatabase('settings_b');
    const dir = h.dir();
    const overrides = { ...FAST, databaseUrl: pg.url(first), llmBaseUrl: provider.url };
    const s1 = await h.start({ dataDir: dir, overrides });

    const before = ((await (await s1.api('/api/settings')).json()) as SettingsBody).settings.databaseUrl;
    expect(before.source).toBe('file');
    expect(before.value).toContain('***');
    expect(JSON.stringify(before)).not.toContain(pg.password);

    // The URL as GET showed it, pointing at another database: the password is kept.
    const masked = (before.value as string).replace(`/${first}`, `/${second}`);
    const res = await patch(s1, { databaseUrl: masked, llmApiKey: API_KEY, llmModel: 'fake-model-2' });
    expect(res.status).toBe(200);
    expect(res.body.applied.sort()).toEqual(['databaseUrl', 'llmApiKey', 'llmModel']);
    expect(res.body.settings.databaseUrl).toEqual({ value: masked, source: 'stored', locked: false });
    expect(JSON.stringify(res.body)).not.toContain(pg.password);

    const chat = await s1.api('/api/chat', { method: 'POST', json: { message: 'into the second database' } });
    expect(chat.status).toBe(200);
    const { conversationId } = (await chat.json()) as { conversationId: string };
    expect(provider.requests.at(-1)?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    // The outbox carries the conversation to the database the URL now names.
    const deadline = Date.now() + PATIENCE_MS;
    let rows: unknown[] = [];
    while (rows.length === 0 && Date.now() < deadline) {
      // The new database gets its tables when the replicator first reaches it.
      rows = await pg.query(second, 'SELECT id FROM conversations WHERE id = $1', [conversationId]).catch(() => []);
      if (rows.length === 0) await new Promise((r) => setTimeout(r, FAST.dbPullIntervalMs));
    }
    expect(rows).toHaveLength(1);
    await s1.close();

    // Only ciphertext in the local settings file; nothing of it in the shared database.
    const db = new Sqlite(settingsDbPath(dir), { readonly: true });
    const raw = JSON.stringify(db.prepare('SELECT * FROM settings').all());
    db.close();
    expect(raw).not.toContain(pg.password);
    expect(raw).not.toContain(API_KEY);
    expect(await pg.query(second, "SELECT 1 FROM information_schema.tables WHERE table_name = 'settings'")).toHaveLength(0);

    // Restarted with the same file values: the stored URL and provider settings win over them.
    const s2 = await h.start({ dataDir: dir, overrides });
    expect(s2.server.config.databaseUrl).toBe(pg.url(second));
    expect(s2.server.config.llmModel).toBe('fake-model-2');
    const status = (await (await s2.api('/api/status')).json()) as StatusBody;
    expect(status.components.database.backend).toBe('postgres');
    const listed = (await (await s2.api('/api/conversations')).json()) as { items: Array<{ id: string }> };
    expect(listed.items.map((c) => c.id)).toContain(conversationId);
  });

  it('moves a running SQLite server to PostgreSQL and back through PATCH, carrying every conversation once', async () => {
    const provider = await h.provider();
    const database = await pg.createDatabase('settings_switch');
    const s = await h.start({ overrides: { ...FAST, llmBaseUrl: provider.url } });
    const turn = async (message: string): Promise<string> => {
      const res = await s.api('/api/chat', { method: 'POST', json: { message } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { conversationId: string }).conversationId;
    };
    const backend = async (): Promise<string> => ((await (await s.api('/api/status')).json()) as StatusBody).components.database.backend;
    const listed = async (): Promise<string[]> =>
      ((await (await s.api('/api/conversations?limit=100')).json()) as { items: Array<{ id: string }> }).items.map((c) => c.id);

    const inSqlite = await turn('written while on SQLite');
    expect(await backend()).toBe('sqlite');

    const toPostgres = await patch(s, { databaseUrl: pg.url(database) });
    expect(toPostgres.status).toBe(200);
    expect(toPostgres.body.applied).toEqual(['databaseUrl']);
    expect(toPostgres.body.restartRequired).toEqual([]);
    expect(await backend()).toBe('postgres');
    const inPostgres = await turn('written while on PostgreSQL');
    // The outbox fills the new database with what SQLite held and what came after, once each.
    const deadline = Date.now() + PATIENCE_MS;
    let ids: string[] = [];
    while (Date.now() < deadline) {
      ids = (await pg.query<{ id: string }>(database, 'SELECT id FROM conversations').catch(() => [])).map((r) => r.id);
      if (ids.includes(inSqlite) && ids.includes(inPostgres)) break;
      await new Promise((r) => setTimeout(r, FAST.dbPullIntervalMs));
    }
    expect(ids.filter((id) => id === inSqlite)).toHaveLength(1);
    expect(ids.filter((id) => id === inPostgres)).toHaveLength(1);

    // Cleared, the setting falls back to the default SQLite file, live, with both conversations.
    const back = await patch(s, { databaseUrl: null });
    expect(back.status).toBe(200);
    expect(back.body.applied).toEqual(['databaseUrl']);
    expect(back.body.settings.databaseUrl.source).toBe('default');
    expect(await backend()).toBe('sqlite');
    const after = await listed();
    expect(after.filter((id) => id === inSqlite)).toHaveLength(1);
    expect(after.filter((id) => id === inPostgres)).toHaveLength(1);
  });
});
