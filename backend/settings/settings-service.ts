import type { Logger } from 'pino';
import type { ConfigSource } from '../config/load.js';
import { fields, type Config } from '../config/schema.js';
import { maskUrl, passwordOf, registerSecret, scrubSecrets } from '../config/secrets.js';
import {
  SETTING_KEYS,
  type SettingEntry,
  type SettingKey,
  type SettingSource,
  type SettingsBody,
  type SettingsUpdateBody,
} from '../contract/settings.js';
import { SettingsStore } from '../data/settings-store.js';
import { DomainError, invalid } from '../errors.js';
import type { ReconfigureResult } from './live-settings.js';
import { SecretBox, SecretBoxError } from './secret-box.js';

/**
 * The settings API's service: which value each changeable setting has and where it comes from,
 * saving changes (secret-bearing ones encrypted) and applying them live.
 *
 * Precedence, lowest first: default < file < stored < env < flag. A value saved here beats
 * config.yaml (and the desktop app's own preferences, which reach the loader as overrides), so
 * the API can change what a file set; it loses to the environment and the command line, which is
 * why those are reported `locked` and refused.
 */

type LiveValues = Pick<Config, SettingKey>;
type Value = LiveValues[SettingKey];

/** The loader's source names, as the API reports them. */
export function settingSourceOf(source: ConfigSource | undefined): SettingSource {
  switch (source) {
    // The desktop host passes the app's own saved preferences as overrides: user choices of the
    // same kind as config.yaml, which a value saved through the API (the same dialog) replaces.
    case 'config file':
    case 'override':
      return 'file';
    case '.env':
    case 'environment':
      return 'env';
    case 'command line':
      return 'flag';
    default:
      return 'default';
  }
}

const isLockedSource = (source: SettingSource): boolean => source === 'env' || source === 'flag';
/** Never returned, only whether set. */
const SECRET_KEYS = new Set<SettingKey>(['llmApiKey']);
/** Returned with their password masked. */
const URL_KEYS = new Set<SettingKey>(['databaseUrl', 'redisUrl']);
/** Stored as ciphertext: the key, and the URLs, which may carry a password. */
const ENCRYPTED_KEYS = new Set<SettingKey>(['llmApiKey', 'databaseUrl', 'redisUrl']);

const isSettingKey = (name: string): name is SettingKey => (SETTING_KEYS as readonly string[]).includes(name);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function pick(config: Config): LiveValues {
  return {
    llmBaseUrl: config.llmBaseUrl,
    llmApiKey: config.llmApiKey,
    llmModel: config.llmModel,
    databaseUrl: config.databaseUrl,
    redisUrl: config.redisUrl,
    corsOrigins: config.corsOrigins,
  };
}

/** A value as it may be shown to a client or written to a log. */
function shown(key: SettingKey, value: Value): SettingEntry['value'] {
  if (SECRET_KEYS.has(key)) return { set: value !== undefined };
  if (value === undefined) return null;
  if (URL_KEYS.has(key) && typeof value === 'string') return maskUrl(value);
  return value;
}

/**
 * A URL sent back as GET showed it (password `***`) keeps the current password: a client editing
 * the host of a masked database URL must not have to know, or type again, the password.
 */
function keepMaskedPassword(next: string, current: string): string {
  try {
    const url = new URL(next);
    if (url.password !== '***' && decodeURIComponent(url.password) !== '***') return next;
    const password = new URL(current).password;
    url.password = password;
    return url.toString();
  } catch {
    return next;
  }
}

/** CORS_ORIGINS entries must be exact origins: anything else would never match and silently allow nothing. */
function checkOrigins(origins: string[]): void {
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== origin.replace(/\/$/, '')) {
      throw invalid(`corsOrigins: "${origin}" is not an origin such as https://app.example.com (scheme, host and port only; "*" is never allowed)`, {
        field: 'corsOrigins',
      });
    }
  }
}

export interface SettingsServiceOptions {
  /** The config as loaded (defaults, file, env, flags), before stored settings. */
  config: Config;
  /** The loader's source of each key; none (tests, embedders) means every value is a default. */
  sources?: Record<string, ConfigSource> | undefined;
  logger: Logger;
}

/** Applies changed settings to the running server (LiveSettings, plus what the server holds itself). */
export type ApplySettings = (next: Partial<Config>) => Promise<ReconfigureResult>;

/** Who asked for a change, for the log. */
export interface SettingsActor {
  kind: string;
  name: string;
}

export class SettingsService {
  private applier: ApplySettings | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: SettingsStore,
    private readonly box: SecretBox,
    private readonly logger: Logger,
    /** Values without stored settings (what clearing a stored value returns to). */
    private readonly base: LiveValues,
    private readonly baseSources: Record<SettingKey, SettingSource>,
    private readonly stored: Map<SettingKey, Value>,
  ) {}

  /**
   * Opens DATA_DIR/settings.db and reads the stored settings. One that cannot be decrypted (the
   * key file is missing or another one) or is no longer valid is logged and left out, so the
   * server starts on the file and default values instead of not at all.
   */
  static async open(options: SettingsServiceOptions): Promise<SettingsService> {
    const { config, logger } = options;
    const store = await SettingsStore.open(config.dataDir);
    const box = SecretBox.forDataDir(config.dataDir);
    const baseSources = {} as Record<SettingKey, SettingSource>;
    for (const key of SETTING_KEYS) baseSources[key] = settingSourceOf(options.sources?.[key]);
    const stored = new Map<SettingKey, Value>();
    try {
      for (const row of await store.all()) {
        if (!isSettingKey(row.key)) {
          logger.warn({ setting: row.key, file: store.file }, 'a stored setting this version does not know is ignored');
          continue;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(row.encrypted ? box.open(row.key, row.value) : row.value);
        } catch (err) {
          const reason = err instanceof SecretBoxError ? err.message : 'it is not valid JSON';
          logger.error({ setting: row.key, reason }, `stored setting ${row.key} cannot be read (${reason}); it is treated as unset`);
          continue;
        }
        const result = fields[row.key].schema.safeParse(parsed);
        if (!result.success) {
          logger.error({ setting: row.key }, `stored setting ${row.key} is not a valid value; it is treated as unset`);
          continue;
        }
        stored.set(row.key, result.data);
      }
    } catch (err) {
      await store.close();
      throw err;
    }
    const service = new SettingsService(store, box, logger, pick(config), baseSources, stored);
    for (const key of ENCRYPTED_KEYS) service.registerSecrets(key, stored.get(key));
    const overruled = [...stored.keys()].filter((key) => isLockedSource(baseSources[key]));
    if (overruled.length > 0) {
      logger.warn({ keys: overruled }, 'stored settings are overruled by the environment or a flag, which win over them');
    }
    return service;
  }

  /** `config` with the stored settings in effect: what the server starts with. */
  effectiveConfig(config: Config): Config {
    return { ...config, ...this.effective() };
  }

  /** Set once the server is wired: how a change reaches the running server. */
  bindApply(apply: ApplySettings): void {
    this.applier = apply;
  }

  view(): SettingsBody {
    const effective = this.effective();
    const settings = {} as SettingsBody['settings'];
    for (const key of SETTING_KEYS) {
      const source = this.sourceOf(key);
      settings[key] = { value: shown(key, effective[key]), source, locked: isLockedSource(source) };
    }
    return { settings };
  }

  /**
   * A reconfigure from outside the API (SIGHUP, the desktop app) passes the whole config as the
   * loader sees it, without stored settings: stored values keep winning over it, as at start-up.
   */
  withStored(next: Partial<Config>): Partial<Config> {
    const out: Partial<Config> = { ...next };
    for (const [key, value] of this.stored) {
      if (!isLockedSource(this.baseSources[key])) this.setOut(out, key, value);
    }
    return out;
  }

  /**
   * After such a reconfigure: the values it applied, and those a stored value hides, become the
   * base that GET reports and that clearing a stored value returns to.
   */
  noteApplied(next: Partial<Config>, applied: readonly string[]): void {
    for (const key of SETTING_KEYS) {
      if (!(key in next)) continue;
      const hidden = this.stored.has(key) && !isLockedSource(this.baseSources[key]);
      if (applied.includes(key) || hidden) this.setOut(this.base, key, next[key]);
    }
  }

  /** Validates, applies and stores a partial update; serialized, so two PATCHes never interleave. */
  update(input: unknown, actor: SettingsActor): Promise<SettingsUpdateBody> {
    const run = this.queue.then(() => this.updateNow(input, actor));
    this.queue = run.catch(() => {});
    return run;
  }

  close(): Promise<void> {
    return this.store.close();
  }

  private async updateNow(input: unknown, actor: SettingsActor): Promise<SettingsUpdateBody> {
    let changes: Map<SettingKey, Value | null>;
    try {
      changes = this.parse(input);
    } catch (err) {
      const refused = err as DomainError;
      // Refusals are audited too: a locked key someone tried to change is worth knowing about.
      this.logger.info(
        { audit: 'settings-refused', credential: actor.name, credentialKind: actor.kind, code: refused.code, field: (refused.details as { field?: string } | undefined)?.field },
        `settings change by ${actor.name} refused: ${refused.message}`,
      );
      throw err;
    }
    const before = this.effective();
    const next: Partial<Config> = {};
    for (const [key, value] of changes) {
      const target = value === null ? this.base[key] : value;
      this.registerSecrets(key, target);
      this.setOut(next, key, target);
    }

    let result: ReconfigureResult;
    try {
      result = this.applier ? await this.applier(next) : { applied: [], restartRequired: [...changes.keys()] };
    } catch (err) {
      if (err instanceof DomainError) throw err;
      this.logger.warn({ keys: [...changes.keys()], err: scrubSecrets((err as Error).message) }, 'settings could not be applied; nothing was stored');
      throw invalid(scrubSecrets(`the settings could not be applied, so nothing was stored: ${(err as Error).message}`), { fields: [...changes.keys()] });
    }

    const puts: Array<{ key: string; value: string; encrypted: boolean }> = [];
    const removals: string[] = [];
    for (const [key, value] of changes) {
      if (value === null) {
        removals.push(key);
        continue;
      }
      const json = JSON.stringify(value);
      const encrypted = ENCRYPTED_KEYS.has(key);
      puts.push({ key, value: encrypted ? this.seal(key, json) : json, encrypted });
    }
    await this.store.save(puts, removals);
    for (const [key, value] of changes) {
      if (value === null) this.stored.delete(key);
      else this.stored.set(key, value);
    }

    const after = this.effective();
    // A list of {setting, from, to}: a secret's name is never a log field (the logger redacts
    // those), and a secret's value shows only as set or unset.
    const audit = [...changes.keys()].map((key) => ({
      setting: key,
      from: SECRET_KEYS.has(key) ? (before[key] === undefined ? 'unset' : 'set') : shown(key, before[key]),
      to: SECRET_KEYS.has(key) ? (after[key] === undefined ? 'unset' : 'set') : shown(key, after[key]),
      source: this.sourceOf(key),
    }));
    this.logger.info(
      { audit: 'settings-changed', credential: actor.name, credentialKind: actor.kind, changes: audit, applied: result.applied, restartRequired: result.restartRequired },
      `settings changed by ${actor.name}: ${[...changes.keys()].join(', ')}`,
    );
    return { ...this.view(), applied: result.applied, restartRequired: result.restartRequired };
  }

  /** The body as a map of known, unlocked keys to valid values (`null`: clear the stored value). */
  private parse(input: unknown): Map<SettingKey, Value | null> {
    if (!isRecord(input)) throw invalid(`send a JSON object of settings, e.g. {"llmModel": "…"}; changeable: ${SETTING_KEYS.join(', ')}`);
    const names = Object.keys(input);
    if (names.length === 0) throw invalid(`no settings given; changeable: ${SETTING_KEYS.join(', ')}`);
    const current = this.effective();
    const changes = new Map<SettingKey, Value | null>();
    for (const name of names) {
      if (!isSettingKey(name)) {
        throw invalid(`unknown setting "${name}"; the settings API changes ${SETTING_KEYS.join(', ')}`, { field: name });
      }
      const source = this.baseSources[name];
      if (isLockedSource(source)) {
        const by = source === 'env' ? `the environment (${fields[name].env})` : 'a command-line flag';
        throw new DomainError('conflict', 'setting-locked', `${name} is set by ${by}, which wins over stored settings; change it there`, {
          field: name,
          source,
        });
      }
      const raw = input[name];
      if (raw === null || raw === '') {
        changes.set(name, null);
        continue;
      }
      const currentValue = current[name];
      const candidate = URL_KEYS.has(name) && typeof raw === 'string' && typeof currentValue === 'string' ? keepMaskedPassword(raw, currentValue) : raw;
      const result = fields[name].schema.safeParse(candidate);
      if (!result.success) {
        const issue = result.error.issues[0]?.message ?? 'not a valid value';
        // The value itself is never echoed: it may be a secret.
        throw invalid(`${name}: ${issue}; expected ${fields[name].doc}`, { field: name });
      }
      if (name === 'corsOrigins') checkOrigins(result.data as string[]);
      changes.set(name, result.data);
    }
    return changes;
  }

  private seal(key: SettingKey, json: string): string {
    try {
      return this.box.seal(key, json);
    } catch (err) {
      if (!(err instanceof SecretBoxError)) throw err;
      this.logger.error({ setting: key, reason: err.message }, `${key} cannot be stored encrypted: ${err.message}`);
      throw new DomainError('internal', 'internal-error', `${key} cannot be stored encrypted: ${err.message}`);
    }
  }

  private effective(): LiveValues {
    const out: LiveValues = { ...this.base };
    for (const [key, value] of this.stored) {
      if (!isLockedSource(this.baseSources[key])) this.setOut(out, key, value);
    }
    return out;
  }

  private sourceOf(key: SettingKey): SettingSource {
    const base = this.baseSources[key];
    return this.stored.has(key) && !isLockedSource(base) ? 'stored' : base;
  }

  private setOut(target: Partial<LiveValues>, key: SettingKey, value: Value): void {
    (target as Record<SettingKey, Value>)[key] = value;
  }

  private registerSecrets(key: SettingKey, value: Value): void {
    if (typeof value !== 'string') return;
    if (key === 'llmApiKey') registerSecret(value);
    else if (URL_KEYS.has(key)) registerSecret(passwordOf(value));
  }
}
