import type { BreakerRegistry } from '../breaker/breaker.js';
import type { Cache, CacheStats } from '../cache/cache.js';
import type { Store, StoreHealth } from '../data/store.js';

export type OverallStatus = 'ok' | 'degraded' | 'down';

export interface ProviderStatus {
  id: string | null;
  baseUrl: string | null;
  source: 'configured' | 'probed' | 'none';
  status: 'up' | 'down' | 'unknown';
  breaker: string | null;
}

export interface StatusSnapshot {
  status: OverallStatus;
  version: string;
  uptimeSeconds: number;
  components: {
    database: StoreHealth;
    cache: CacheStats;
    provider: ProviderStatus;
    websocket: { clients: number };
  };
}

export interface StatusSources {
  version: string;
  startedAt: number;
  store: Store;
  cache: Cache;
  breakers: BreakerRegistry;
  provider: () => ProviderStatus;
  websocketClients: () => number;
}

/**
 * Builds /api/status. The snapshot is cheap but asked for often (panels poll it, load balancers
 * probe it), so the serialized body is kept for a second and dropped at once when a component
 * changes state.
 */
export class StatusService {
  private cached: { at: number; body: string; bytes: number; snapshot: StatusSnapshot } | undefined;

  constructor(private readonly sources: StatusSources) {}

  snapshot(): StatusSnapshot {
    const s = this.sources;
    const database = s.store.health();
    const cache = s.cache.stats();
    const provider = s.provider();
    let status: OverallStatus = 'ok';
    const degraded =
      (database.breaker !== null && database.breaker !== 'closed') ||
      cache.l2.status === 'down' ||
      s.breakers.list().some((b) => b.state !== 'closed');
    if (degraded) status = 'degraded';
    return {
      status,
      version: s.version,
      uptimeSeconds: Math.floor((Date.now() - s.startedAt) / 1000),
      components: { database, cache, provider, websocket: { clients: s.websocketClients() } },
    };
  }

  /** The JSON body for GET /api/status, refreshed at most once a second. */
  /** The serialized status and its length in bytes, rebuilt at most once a second. */
  encoded(): { body: string; bytes: number } {
    const now = Date.now();
    if (this.cached === undefined || now - this.cached.at >= 1000) {
      const snapshot = this.snapshot();
      const body = JSON.stringify(snapshot);
      this.cached = { at: now, body, bytes: Buffer.byteLength(body), snapshot };
    }
    return this.cached;
  }

  invalidate(): void {
    this.cached = undefined;
  }
}
