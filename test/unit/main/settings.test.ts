import { describe, expect, it } from 'vitest';
import { parseSettingsUpdate, SettingsError, SettingsService, withPassword, type KeyValueStore, type SecretCipher } from '../../../main/settings.js';

class MapStore implements KeyValueStore {
  readonly data = new Map<string, unknown>();
  get(key: string): unknown {
    return this.data.get(key);
  }
  set(key: string, value: unknown): void {
    // electron-store writes JSON; a round trip keeps the fake just as strict.
    this.data.set(key, JSON.parse(JSON.stringify(value)) as unknown);
  }
}

/** A reversible stand-in for the OS keychain: ciphertext never contains the plain text. */
class FakeSafeStorage implements SecretCipher {
  constructor(public available = true) {}
  isEncryptionAvailable(): boolean {
    return this.available;
  }
  encryptString(plain: string): Buffer {
    return Buffer.from(`enc:${Buffer.from(plain).toString('hex').split('').reverse().join('')}`);
  }
  decryptString(encrypted: Buffer): string {
    const text = encrypted.toString();
    if (!text.startsWith('enc:')) throw new Error('not ours');
    return Buffer.from(text.slice(4).split('').reverse().join(''), 'hex').toString();
  }
}

const setup = (available = true) => {
  const store = new MapStore();
  const cipher = new FakeSafeStorage(available);
  const logs: string[] = [];
  return { store, cipher, logs, service: new SettingsService(store, cipher, (l) => logs.push(l)) };
};

describe('SettingsService', () => {
  it('starts from defaults and maps them to loopback, port-0 backend overrides', () => {
    const { service } = setup();
    expect(service.view()).toEqual({
      settings: { llmBaseUrl: '', llmModel: '', databaseUrl: '', redisUrl: '', logLevel: 'info', notifyOnReply: true, updateUrl: '' },
      secrets: { llmApiKey: { set: false }, databasePassword: { set: false } },
      encryptionAvailable: true,
    });
    expect(service.backendOverrides('/data')).toEqual({ dataDir: '/data', host: '127.0.0.1', apiPort: 0, logLevel: 'info', logToFile: true });
  });

  it('stores settings and secrets; secrets only as ciphertext and never in the view', () => {
    const { service, store } = setup();
    const view = service.update({
      settings: { llmBaseUrl: ' http://127.0.0.1:11434/v1 ', llmModel: 'llama3.2', redisUrl: 'redis://cache:6379', logLevel: 'debug' },
      secrets: { llmApiKey: 'sk-very-secret' },
    });
    expect(view.settings).toMatchObject({ llmBaseUrl: 'http://127.0.0.1:11434/v1', llmModel: 'llama3.2', logLevel: 'debug' });
    expect(view.secrets.llmApiKey).toEqual({ set: true });
    expect(JSON.stringify(view)).not.toContain('sk-very-secret');
    expect(JSON.stringify([...store.data])).not.toContain('sk-very-secret');

    expect(service.backendOverrides('/data')).toEqual({
      dataDir: '/data',
      host: '127.0.0.1',
      apiPort: 0,
      logLevel: 'debug',
      logToFile: true,
      llmBaseUrl: 'http://127.0.0.1:11434/v1',
      llmModel: 'llama3.2',
      redisUrl: 'redis://cache:6379',
      llmApiKey: 'sk-very-secret',
    });
  });

  it('splits a password typed into the database URL into the secret store', () => {
    const { service, store } = setup();
    const view = service.update({ settings: { databaseUrl: 'postgres://app:p%40ss@db.internal:5432/orchestra' } });
    expect(view.settings.databaseUrl).toBe('postgres://app@db.internal:5432/orchestra');
    expect(view.secrets.databasePassword).toEqual({ set: true });
    expect(JSON.stringify([...store.data])).not.toContain('p%40ss');
    expect(service.backendOverrides('/d').databaseUrl).toBe('postgres://app:p%40ss@db.internal:5432/orchestra');

    // Clearing the secret leaves the URL without a password.
    service.update({ secrets: { databasePassword: null } });
    expect(service.view().secrets.databasePassword).toEqual({ set: false });
    expect(service.backendOverrides('/d').databaseUrl).toBe('postgres://app@db.internal:5432/orchestra');
  });

  it('keeps a secret untouched when the update does not mention it, and clears it with null or ""', () => {
    const { service } = setup();
    service.update({ secrets: { llmApiKey: 'k1' } });
    service.update({ settings: { llmModel: 'm' } });
    expect(service.secret('llmApiKey')).toBe('k1');
    service.update({ secrets: { llmApiKey: '' } });
    expect(service.secret('llmApiKey')).toBeUndefined();
  });

  it('refuses to store a secret when the OS keychain is unavailable, and writes nothing', () => {
    const { service, store } = setup(false);
    expect(() => service.update({ settings: { llmModel: 'x' }, secrets: { llmApiKey: 'k' } })).toThrow(/keychain is not available/);
    expect(store.data.size).toBe(0);
    expect(service.view().encryptionAvailable).toBe(false);
  });

  it('ignores a stored secret it can no longer decrypt, and says so', () => {
    const { service, store, logs } = setup();
    store.set('secrets', { llmApiKey: Buffer.from('garbage').toString('base64') });
    expect(service.backendOverrides('/d').llmApiKey).toBeUndefined();
    expect(logs.join('\n')).toMatch(/llmApiKey cannot be decrypted/);
  });

  it('survives a corrupted store file', () => {
    const { service, store } = setup();
    store.set('settings', { llmBaseUrl: 42, logLevel: 'loud', unknown: 'x', notifyOnReply: 'yes', updateUrl: false });
    store.set('secrets', 'nonsense');
    expect(service.settings()).toEqual({ llmBaseUrl: '', llmModel: '', databaseUrl: '', redisUrl: '', logLevel: 'info', notifyOnReply: true, updateUrl: '' });
    expect(service.view().secrets.llmApiKey.set).toBe(false);
  });
});

describe('parseSettingsUpdate (input from the renderer is untrusted)', () => {
  it.each([
    [null, 'update'],
    [{ settings: 'x' }, 'settings'],
    [{ settings: { nope: 'x' } }, 'nope'],
    [{ settings: { llmBaseUrl: 'ftp://x' } }, 'llmBaseUrl'],
    [{ settings: { llmBaseUrl: 'not a url' } }, 'llmBaseUrl'],
    [{ settings: { llmBaseUrl: 42 } }, 'llmBaseUrl'],
    [{ settings: { databaseUrl: 'mysql://x' } }, 'databaseUrl'],
    [{ settings: { redisUrl: 'http://x' } }, 'redisUrl'],
    [{ settings: { logLevel: 'loud' } }, 'logLevel'],
    [{ secrets: { llmApiKey: 5 } }, 'llmApiKey'],
    [{ secrets: { other: 'x' } }, 'other'],
    [{ settings: { llmModel: 'x'.repeat(2001) } }, 'llmModel'],
    [{ settings: { notifyOnReply: 'false' } }, 'notifyOnReply'],
    [{ settings: { updateUrl: 'file:///srv/updates' } }, 'updateUrl'],
    [{ settings: { updateUrl: true } }, 'updateUrl'],
  ])('%j is refused, naming %s', (input, field) => {
    try {
      parseSettingsUpdate(input);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SettingsError);
      expect((err as SettingsError).field).toBe(field);
    }
  });

  it('accepts empty values (unset) and the documented URL forms', () => {
    expect(
      parseSettingsUpdate({
        settings: { llmBaseUrl: '', databaseUrl: 'sqlite:///tmp/app.db', redisUrl: 'memory://' },
      }),
    ).toEqual({ settings: { llmBaseUrl: '', databaseUrl: 'sqlite:///tmp/app.db', redisUrl: 'memory://' } });
  });

  it('takes the notification switch as a boolean and the update feed as an http(s) URL; neither reaches the backend', () => {
    expect(parseSettingsUpdate({ settings: { notifyOnReply: false, updateUrl: ' https://updates.example/orchestra/ ' } })).toEqual({
      settings: { notifyOnReply: false, updateUrl: 'https://updates.example/orchestra/' },
    });
    const store = new Map<string, unknown>();
    const service = new SettingsService({ get: (k) => store.get(k), set: (k, v) => store.set(k, v) }, { isEncryptionAvailable: () => false, encryptString: () => Buffer.alloc(0), decryptString: () => '' });
    service.update({ settings: { notifyOnReply: false, updateUrl: 'http://127.0.0.1:9/feed' } });
    expect(service.settings()).toMatchObject({ notifyOnReply: false, updateUrl: 'http://127.0.0.1:9/feed' });
    expect(Object.keys(service.backendOverrides('/d')).sort()).toEqual(['apiPort', 'dataDir', 'host', 'logLevel', 'logToFile']);
  });
});

describe('withPassword', () => {
  it('only touches postgres URLs', () => {
    expect(withPassword('postgres://u@h/db', 'a b@c')).toBe('postgres://u:a%20b%40c@h/db');
    expect(withPassword('sqlite:///x.db', 'secret')).toBe('sqlite:///x.db');
    expect(withPassword('postgres://u@h/db', undefined)).toBe('postgres://u@h/db');
  });
});
