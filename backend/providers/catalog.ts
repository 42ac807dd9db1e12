import { createHash } from 'node:crypto';
import { cacheKey, type Cache } from '../cache/cache.js';
import type { ModelProvider } from './types.js';

/** Model lists change when someone pulls or removes a model; keep them briefly. */
const MODELS_TTL_SECONDS = 60;

export interface ModelList {
  provider: string;
  models: string[];
}

/**
 * The models of the current provider, through the cache (one upstream call per provider per
 * minute, however many panels ask). The key names the provider, so switching providers never
 * shows the old list.
 */
export class ModelCatalog {
  constructor(
    private readonly providers: { resolve(signal?: AbortSignal): Promise<ModelProvider> },
    private readonly cache: Cache,
    private readonly ttlSeconds = MODELS_TTL_SECONDS,
  ) {}

  async list(signal?: AbortSignal): Promise<ModelList> {
    const provider = await this.providers.resolve(signal);
    const id = createHash('sha256').update(provider.id).digest('hex').slice(0, 32);
    // No caller's signal inside the shared load: one client leaving must not fail the others.
    return this.cache.wrap(
      cacheKey('models', id),
      async (): Promise<ModelList> => ({ provider: provider.id, models: await provider.listModels() }),
      { ttlSeconds: this.ttlSeconds },
    );
  }
}
