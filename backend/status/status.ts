import type { BreakerRegistry } from '../breaker/breaker.js';
import type { Cache, CacheStats } from '../cache/cache.js';
import type { CacheStatus, DatabaseStatus, OverallStatus, ProviderStatus, StatusBody } from '../contract/status.js';
import type { Store, StoreHealth } from '../data/store.js';

export type { OverallStatus, ProviderStatus };
/** The status service answers with the wire shape itself. */
export type StatusSnapshot = StatusBody;

// Component health to its wire shape, field by field, so a field added to a component's own
// health report does not reach clients unless it is added here.
const databaseStatus = (h: StoreHealth): DatabaseStatus => ({ backend: h.backend, mode: h.mode, breaker: h.breaker, pendingSync: h.pendingSync });
const cacheStatus = (s: CacheStats): CacheStatus => ({
  l1: { entries: s.l1.entries, bytes: s.l1.bytes, hitRatio: s.l1.hitRatio },
  l2: { backend: s.l2.backend, status: s.l2.status },
});

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
      components: { database: databaseStatus(database), cache: cacheStatus(cache), provider, websocket: { clients: s.websocketClients() } },
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
