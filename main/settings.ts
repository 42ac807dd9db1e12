import type { DesktopSettings, SecretName, SettingsUpdate, SettingsView } from '../preload/api.js';
import type { BackendOverrides } from './backend-protocol.js';

/**
 * Desktop settings: plain values in electron-store, secrets (LLM API key, database password)
 * encrypted with Electron's safeStorage (the OS keychain) and stored only as ciphertext. Main
 * turns them into backend config overrides; the renderer sees whether a secret is set, never it.
 */

/** The slice of electron-store used here; tests pass a Map-backed fake. */
export interface KeyValueStore {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
}

/** The slice of Electron's safeStorage used here. */
export interface SecretCipher {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
}

export const DEFAULT_SETTINGS: DesktopSettings = {
  llmBaseUrl: '',
  llmModel: '',
  databaseUrl: '',
  redisUrl: '',
  logLevel: 'info',
  notifyOnReply: true,
  updateUrl: '',
};

const SECRET_NAMES: readonly SecretName[] = ['llmApiKey', 'databasePassword'];
const LOG_LEVELS: ReadonlyArray<DesktopSettings['logLevel']> = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export class SettingsError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'SettingsError';
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function urlWithScheme(field: string, value: string, schemes: RegExp, allowed: string): URL | undefined {
  if (value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SettingsError(field, `${field} is not a URL (expected ${allowed})`);
  }
  if (!schemes.test(url.protocol)) throw new SettingsError(field, `${field} must be ${allowed}`);
  return url;
}

/**
 * Validates an update that arrived over IPC (so: untrusted shape). A database URL typed with a
 * password in it is split: the password becomes the secret, the stored URL keeps none.
 */
export function parseSettingsUpdate(input: unknown): SettingsUpdate {
  if (!isRecord(input)) throw new SettingsError('update', 'the settings update must be an object');
  const out: SettingsUpdate = {};
  if (input.settings !== undefined) {
    if (!isRecord(input.settings)) throw new SettingsError('settings', 'settings must be an object');
    const s: Partial<DesktopSettings> = {};
    for (const [key, raw] of Object.entries(input.settings)) {
      if (!(key in DEFAULT_SETTINGS)) throw new SettingsError(key, `unknown setting "${key}"`);
      if (key === 'notifyOnReply') {
        if (typeof raw !== 'boolean') throw new SettingsError(key, 'notifyOnReply must be true or false');
        s.notifyOnReply = raw;
        continue;
      }
      if (typeof raw !== 'string') throw new SettingsError(key, `${key} must be a string`);
      const value = raw.trim();
      if (value.length > 2000) throw new SettingsError(key, `${key} is too long`);
      switch (key as keyof DesktopSettings) {
        case 'llmBaseUrl':
          urlWithScheme(key, value, /^https?:$/, 'an http(s):// URL such as http://127.0.0.1:11434/v1');
          s.llmBaseUrl = value;
          break;
        case 'llmModel':
          s.llmModel = value;
          break;
        case 'databaseUrl': {
          const url = urlWithScheme(key, value, /^(sqlite|postgres|postgresql):$/, 'sqlite:///path or postgres://user@host/db');
          if (url !== undefined && url.password !== '') {
            out.secrets = { ...out.secrets, databasePassword: decodeURIComponent(url.password) };
            url.password = '';
            s.databaseUrl = url.toString();
          } else {
            s.databaseUrl = value;
          }
          break;
        }
        case 'redisUrl':
          urlWithScheme(key, value, /^(memory|redis|rediss):$/, 'memory:// or redis://host:6379');
          s.redisUrl = value;
          break;
        case 'updateUrl':
          urlWithScheme(key, value, /^https?:$/, 'an http(s):// URL of the folder that serves latest.yml');
          s.updateUrl = value;
          break;
        case 'notifyOnReply':
          break;
        case 'logLevel':
          if (!LOG_LEVELS.includes(value as DesktopSettings['logLevel'])) {
            throw new SettingsError(key, `logLevel must be one of ${LOG_LEVELS.join(', ')}`);
          }
          s.logLevel = value as DesktopSettings['logLevel'];
          break;
      }
    }
    out.settings = s;
  }
  if (input.secrets !== undefined) {
    if (!isRecord(input.secrets)) throw new SettingsError('secrets', 'secrets must be an object');
    for (const [key, value] of Object.entries(input.secrets)) {
      if (!SECRET_NAMES.includes(key as SecretName)) throw new SettingsError(key, `unknown secret "${key}"`);
      if (value !== null && typeof value !== 'string') throw new SettingsError(key, `${key} must be a string or null`);
      if (typeof value === 'string' && value.length > 4000) throw new SettingsError(key, `${key} is too long`);
      // The password split out of a database URL above wins over an empty field sent alongside it.
      if (key === 'databasePassword' && out.secrets?.databasePassword !== undefined && (value === null || value === '')) continue;
      out.secrets = { ...out.secrets, [key]: value === '' ? null : value };
    }
  }
  return out;
}

/** Puts the password back into a postgres URL for the backend; other URLs are returned as they are. */
export function withPassword(databaseUrl: string, password: string | undefined): string {
  if (password === undefined || password === '' || !/^postgres(ql)?:/.test(databaseUrl)) return databaseUrl;
  const url = new URL(databaseUrl);
  url.password = password;
  return url.toString();
}

export class SettingsService {
  constructor(
    private readonly store: KeyValueStore,
    private readonly cipher: SecretCipher,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  settings(): DesktopSettings {
    const stored = this.store.get('settings');
    const out: DesktopSettings = { ...DEFAULT_SETTINGS };
    if (isRecord(stored)) {
      for (const key of Object.keys(DEFAULT_SETTINGS) as Array<keyof DesktopSettings>) {
        const v = stored[key];
        if (typeof v === typeof DEFAULT_SETTINGS[key]) (out as unknown as Record<string, unknown>)[key] = v;
      }
    }
    if (!LOG_LEVELS.includes(out.logLevel)) out.logLevel = DEFAULT_SETTINGS.logLevel;
    return out;
  }

  private ciphertexts(): Partial<Record<SecretName, string>> {
    const stored = this.store.get('secrets');
    const out: Partial<Record<SecretName, string>> = {};
    if (isRecord(stored)) for (const name of SECRET_NAMES) if (typeof stored[name] === 'string') out[name] = stored[name];
    return out;
  }

  /** The decrypted secret, or undefined when unset or no longer decryptable (keychain changed). */
  secret(name: SecretName): string | undefined {
    const ciphertext = this.ciphertexts()[name];
    if (ciphertext === undefined) return undefined;
    if (!this.cipher.isEncryptionAvailable()) {
      this.log(`secret ${name} is stored but the OS keychain is not available; it is ignored`);
      return undefined;
    }
    try {
      return this.cipher.decryptString(Buffer.from(ciphertext, 'base64'));
    } catch (err) {
      this.log(`secret ${name} cannot be decrypted (${(err as Error).message}); set it again in Settings`);
      return undefined;
    }
  }

  view(): SettingsView {
    const stored = this.ciphertexts();
    return {
      settings: this.settings(),
      secrets: { llmApiKey: { set: stored.llmApiKey !== undefined }, databasePassword: { set: stored.databasePassword !== undefined } },
      encryptionAvailable: this.cipher.isEncryptionAvailable(),
    };
  }

  /** The stored values as they are, to put back with `restore` when the backend refuses an update. */
  snapshot(): { settings: unknown; secrets: unknown } {
    return { settings: this.store.get('settings'), secrets: this.store.get('secrets') };
  }

  restore(snapshot: { settings: unknown; secrets: unknown }): void {
    this.store.set('settings', snapshot.settings ?? {});
    this.store.set('secrets', snapshot.secrets ?? {});
  }

  /** Validates and stores an update (from IPC); throws SettingsError naming the field. */
  update(input: unknown): SettingsView {
    const update = parseSettingsUpdate(input);
    const secrets = { ...this.ciphertexts() };
    for (const [name, value] of Object.entries(update.secrets ?? {}) as Array<[SecretName, string | null | undefined]>) {
      if (value === undefined) continue;
      if (value === null) {
        delete secrets[name];
        continue;
      }
      if (!this.cipher.isEncryptionAvailable()) {
        throw new SettingsError(
          name,
          'the OS keychain is not available, so secrets cannot be stored safely; set LLM_API_KEY or the database password in the environment instead',
        );
      }
      secrets[name] = this.cipher.encryptString(value).toString('base64');
    }
    // Validate everything before writing anything: a bad field leaves the stored settings alone.
    this.store.set('settings', { ...this.settings(), ...update.settings });
    this.store.set('secrets', secrets);
    return this.view();
  }

  /**
   * The backend config overrides for the current settings. Unset values are left out, so the
   * environment, .env and config.yaml in the data directory still apply to them.
   */
  backendOverrides(dataDir: string): BackendOverrides {
    const s = this.settings();
    const overrides: BackendOverrides = { dataDir, host: '127.0.0.1', apiPort: 0, logLevel: s.logLevel, logToFile: true };
    if (s.llmBaseUrl !== '') overrides.llmBaseUrl = s.llmBaseUrl;
    if (s.llmModel !== '') overrides.llmModel = s.llmModel;
    if (s.redisUrl !== '') overrides.redisUrl = s.redisUrl;
    if (s.databaseUrl !== '') overrides.databaseUrl = withPassword(s.databaseUrl, this.secret('databasePassword'));
    const apiKey = this.secret('llmApiKey');
    if (apiKey !== undefined) overrides.llmApiKey = apiKey;
    return overrides;
  }
}
