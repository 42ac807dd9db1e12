import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { maskUrl, passwordOf, registerSecret } from '../config/secrets.js';
import type { Store } from '../data/store.js';
import type { ProviderRegistry } from '../providers/registry.js';

export interface ReconfigureResult {
  /** Keys now in effect. */
  applied: string[];
  /** Keys that changed but only take effect after a restart. */
  restartRequired: string[];
}

const PROVIDER_KEYS = new Set<keyof Config>(['llmBaseUrl', 'llmApiKey', 'llmModel']);

/**
 * Switches REDIS_URL live: the cache and the Socket.IO relay. Resolves to the parts that could
 * not follow (reported as needing a restart), normally none.
 */
export type RedisSwitch = (redisUrl: string) => Promise<{ restartRequired: boolean }>;

/**
 * Settings the running server can change in place (from SIGHUP or the desktop settings):
 * - DATABASE_URL: between PostgreSQL URLs (a new host, a rotated password) it reconnects and keeps
 *   the outbox; between SQLite and PostgreSQL it switches the store, carrying rows over (the
 *   store's `reconfigure`, see data/open.ts). Only a move from one SQLite file to another needs
 *   a restart. A URL that is not a database URL is refused (ConfigError), nothing changes;
 * - REDIS_URL: memory, Redis or another Redis, for the cache and the Socket.IO relay;
 * - LLM_BASE_URL, LLM_API_KEY and LLM_MODEL switch the model provider; replies in flight finish
 *   on the old one.
 * Everything else that changed is reported as needing a restart.
 */
export class LiveSettings {
  private databaseUrl: string;
  private redisUrl: string;
  private provider: { baseUrl: string | undefined; apiKey: string | undefined; model: string | undefined };
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly providers?: ProviderRegistry,
    private readonly redis?: RedisSwitch,
  ) {
    this.databaseUrl = config.databaseUrl;
    this.redisUrl = config.redisUrl;
    this.provider = { baseUrl: config.llmBaseUrl, apiKey: config.llmApiKey, model: config.llmModel };
  }

  /** Applies the changed keys of `next`; calls are serialized. */
  apply(next: Partial<Config>): Promise<ReconfigureResult> {
    const run = this.queue.then(() => this.applyNow(next));
    this.queue = run.catch(() => {});
    return run;
  }

  private async applyNow(next: Partial<Config>): Promise<ReconfigureResult> {
    const result: ReconfigureResult = { applied: [], restartRequired: [] };
    await this.applyProvider(next, result);
    for (const key of Object.keys(next) as Array<keyof Config>) {
      const value = next[key];
      if (value === undefined || PROVIDER_KEYS.has(key)) continue;
      if (key === 'databaseUrl') {
        if (value === this.databaseUrl) continue;
        const url = value as string;
        const sqliteToSqlite = url.startsWith('sqlite:') && this.databaseUrl.startsWith('sqlite:');
        if (this.store.reconfigure && !sqliteToSqlite) {
          registerSecret(passwordOf(url));
          await this.store.reconfigure(url);
          this.databaseUrl = url;
          result.applied.push(key);
          this.logger.info({ databaseUrl: maskUrl(url), backend: this.store.backend }, 'DATABASE_URL changed; switched live');
        } else {
          result.restartRequired.push(key);
        }
        continue;
      }
      if (key === 'redisUrl' && this.redis) {
        if (value === this.redisUrl) continue;
        const url = value as string;
        registerSecret(passwordOf(url));
        const outcome = await this.redis(url);
        this.redisUrl = url;
        result.applied.push(key);
        if (outcome.restartRequired) result.restartRequired.push(key);
        this.logger.info({ redisUrl: maskUrl(url) }, 'REDIS_URL changed; switched live');
        continue;
      }
      if (JSON.stringify(value) !== JSON.stringify(this.config[key])) result.restartRequired.push(key);
    }
    if (result.restartRequired.length > 0) {
      this.logger.warn({ keys: result.restartRequired }, 'these settings changed and take effect after a restart');
    }
    return result;
  }

  private async applyProvider(next: Partial<Config>, result: ReconfigureResult): Promise<void> {
    const wanted = {
      baseUrl: 'llmBaseUrl' in next ? next.llmBaseUrl : this.provider.baseUrl,
      apiKey: 'llmApiKey' in next ? next.llmApiKey : this.provider.apiKey,
      model: 'llmModel' in next ? next.llmModel : this.provider.model,
    };
    const changed = (['llmBaseUrl', 'llmApiKey', 'llmModel'] as const).filter((key) => {
      const field = key === 'llmBaseUrl' ? 'baseUrl' : key === 'llmApiKey' ? 'apiKey' : 'model';
      return key in next && wanted[field] !== this.provider[field];
    });
    if (changed.length === 0) return;
    if (!this.providers) {
      result.restartRequired.push(...changed);
      return;
    }
    registerSecret(wanted.apiKey);
    await this.providers.reconfigure(wanted);
    this.provider = wanted;
    result.applied.push(...changed);
    this.logger.info({ baseUrl: wanted.baseUrl ?? 'probe local servers', model: wanted.model ?? null }, 'model provider settings changed');
  }
}
