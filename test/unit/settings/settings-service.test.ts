import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../backend/config/load.js';
import { registerSecret } from '../../../backend/config/secrets.js';
import { settingsDbPath, SettingsStore } from '../../../backend/data/settings-store.js';
import { DomainError } from '../../../backend/errors.js';
import { SettingsService } from '../../../backend/settings/settings-service.js';

const dirs: string[] = [];
const services: SettingsService[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(): { dataDir: string; lines: Array<Record<string, unknown>>; open: () => Promise<SettingsService> } {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'orchestra-settings-unit-'));
  dirs.push(dataDir);
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const { config, sources } = loadConfig({ env: {}, cwd: dataDir, overrides: { dataDir } });
  return {
    dataDir,
    lines,
    open: async () => {
      const s = await SettingsService.open({ config, sources, logger });
      services.push(s);
      return s;
    },
  };
}

const owner = { kind: 'owner', name: 'owner' };

describe('SettingsService', () => {
  it('without a way to apply changes, stores them and reports them for a restart', async () => {
    const { open } = setup();
    const s = await open();
    const result = await s.update({ llmModel: 'm1' }, owner);
    expect(result.applied).toEqual([]);
    expect(result.restartRequired).toEqual(['llmModel']);
    expect(result.settings.llmModel).toEqual({ value: 'm1', source: 'stored', locked: false });
  });

  it('stores nothing when applying fails, and says why without the secret', async () => {
    const { dataDir, open } = setup();
    const s = await open();
    registerSecret('sk-never-shown-0042');
    s.bindApply(() => Promise.reject(new Error('provider said no to sk-never-shown-0042')));
    const err = await s.update({ llmApiKey: 'sk-never-shown-0042' }, owner).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('invalid-request');
    expect((err as Error).message).toContain('nothing was stored');
    expect((err as Error).message).not.toContain('sk-never-shown-0042');
    const store = await SettingsStore.open(dataDir);
    expect(await store.all()).toEqual([]);
    await store.close();
    // A DomainError from applying passes through as it is.
    s.bindApply(() => Promise.reject(new DomainError('unavailable', 'not-ready', 'later')));
    await expect(s.update({ llmModel: 'x' }, owner)).rejects.toMatchObject({ code: 'not-ready' });
  });

  it('starts on the other values when a stored row is unknown, not JSON, or no longer valid', async () => {
    const { dataDir, lines, open } = setup();
    await (await open()).close();
    services.splice(0);
    const db = new Sqlite(settingsDbPath(dataDir));
    const insert = db.prepare('INSERT INTO settings (key, value, encrypted, updated_at) VALUES (?, ?, 0, ?)');
    insert.run('themeColour', '"teal"', 'now');
    insert.run('llmModel', '{not json', 'now');
    insert.run('llmBaseUrl', '"ftp://example.com"', 'now');
    insert.run('corsOrigins', '["https://kept.example"]', 'now');
    db.close();
    const s = await open();
    const view = s.view().settings;
    expect(view.llmModel).toEqual({ value: null, source: 'default', locked: false });
    expect(view.llmBaseUrl).toEqual({ value: null, source: 'default', locked: false });
    expect(view.corsOrigins).toEqual({ value: ['https://kept.example'], source: 'stored', locked: false });
    const messages = lines.map((l) => String(l.msg));
    expect(messages.some((m) => m.includes('does not know'))).toBe(true);
    expect(messages.some((m) => m.includes('llmModel cannot be read'))).toBe(true);
    expect(messages.some((m) => m.includes('llmBaseUrl is not a valid value'))).toBe(true);
  });

  it('serializes concurrent updates: the last one wins, and both are answered', async () => {
    const { open } = setup();
    const s = await open();
    const [a, b] = await Promise.all([s.update({ llmModel: 'first' }, owner), s.update({ llmModel: 'second' }, owner)]);
    expect(a.settings.llmModel.value).toBe('first');
    expect(b.settings.llmModel.value).toBe('second');
    expect(s.view().settings.llmModel.value).toBe('second');
  });
});
