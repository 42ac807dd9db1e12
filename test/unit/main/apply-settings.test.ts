import { describe, expect, it, vi } from 'vitest';
import { saveAndApplySettings } from '../../../main/apply-settings.js';
import type { ReconfigureResult } from '../../../main/backend-protocol.js';
import { SettingsService, type KeyValueStore, type SecretCipher } from '../../../main/settings.js';

const store = (): KeyValueStore & { data: Map<string, unknown> } => {
  const data = new Map<string, unknown>();
  return { data, get: (k) => data.get(k), set: (k, v) => void data.set(k, JSON.parse(JSON.stringify(v)) as unknown) };
};
const cipher: SecretCipher = {
  isEncryptionAvailable: () => true,
  encryptString: (s) => Buffer.from(`x${s}`),
  decryptString: (b) => b.toString().slice(1),
};

function setup(result: ReconfigureResult | 'not-running', message = 'llmModel takes effect after a restart') {
  const settings = new SettingsService(store(), cipher);
  settings.update({ settings: { llmModel: 'before' } });
  const reconfigure = vi.fn(() => Promise.resolve({ result, message }));
  const scheduleRestart = vi.fn();
  return { settings, reconfigure, scheduleRestart, deps: { settings, dataDir: '/data', reconfigure, scheduleRestart } };
}

describe('saveAndApplySettings', () => {
  it('reports settings the backend applied live', async () => {
    const t = setup('applied', 'databaseUrl applied live');
    const result = await saveAndApplySettings(t.deps, { settings: { llmModel: 'after' } });
    expect(result).toMatchObject({ ok: true, applied: 'live', message: 'Settings saved and applied (databaseUrl applied live).' });
    expect(t.reconfigure).toHaveBeenCalledWith(expect.objectContaining({ dataDir: '/data', llmModel: 'after' }));
    expect(t.scheduleRestart).not.toHaveBeenCalled();
  });

  it('restarts the backend when a key needs it', async () => {
    const t = setup('restart-required');
    const result = await saveAndApplySettings(t.deps, { settings: { llmModel: 'after' } });
    expect(result).toMatchObject({ ok: true, applied: 'restarted', message: 'Settings saved; llmModel takes effect after a restart, so the backend restarts now.' });
    expect(t.scheduleRestart).toHaveBeenCalledOnce();
    expect(t.settings.settings().llmModel).toBe('after');
  });

  it('rolls back settings the backend refuses', async () => {
    const t = setup('refused', 'invalid LLM_MODEL');
    const result = await saveAndApplySettings(t.deps, { settings: { llmModel: 'after' }, secrets: { llmApiKey: 'k' } });
    expect(result).toEqual({ ok: false, message: 'Not saved: invalid LLM_MODEL' });
    expect(t.settings.settings().llmModel).toBe('before');
    expect(t.settings.view().secrets.llmApiKey.set).toBe(false);
    expect(t.scheduleRestart).not.toHaveBeenCalled();
  });

  it('only stores them while the backend is not running', async () => {
    const t = setup('not-running');
    expect(await saveAndApplySettings(t.deps, { settings: { llmModel: 'after' } })).toMatchObject({ ok: true, applied: 'saved' });
  });

  it('answers a validation error with the field, without touching the backend', async () => {
    const t = setup('applied');
    expect(await saveAndApplySettings(t.deps, { settings: { redisUrl: 'http://nope' } })).toEqual({
      ok: false,
      field: 'redisUrl',
      message: 'redisUrl must be memory:// or redis://host:6379',
    });
    expect(t.reconfigure).not.toHaveBeenCalled();
  });
});
