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

const sameDatabase = (a: DatabaseStatus, b: DatabaseStatus): boolean =>
  a.backend === b.backend && a.mode === b.mode && a.breaker === b.breaker && a.pendingSync === b.pendingSync;

/** What the status reads, and nothing more (tests hand it small fakes). */
export interface StatusSources {
  version: string;
  startedAt: number;
  store: Pick<Store, 'health'>;
  cache: Pick<Cache, 'stats'>;
  breakers: Pick<BreakerRegistry, 'list'>;
  provider: () => ProviderStatus;
  websocketClients: () => number;
  /** The clock (Date.now unless a test moves it). */
  now?: () => number;
}

/**
 * Builds /api/status. The snapshot is cheap but asked for often (panels poll it, load balancers
 * probe it), so the serialized body is kept for a second and dropped at once when a component
 * changes state. The database part is never served stale: it is read on every request and the
 * body is rebuilt whenever it differs from the kept one. `pendingSync: 0` is what an admin waits
 * for before deleting replica.db (docs/postgres.md), and a body kept from before a burst of
 * writes would show 0 while those writes still waited for PostgreSQL.
 */
export class StatusService {
  private cached: { at: number; body: string; bytes: number; snapshot: StatusSnapshot } | undefined;

  private readonly now: () => number;

  constructor(private readonly sources: StatusSources) {
    this.now = sources.now ?? Date.now;
  }

  snapshot(): StatusSnapshot {
    return this.build(databaseStatus(this.sources.store.health()));
  }

  private build(database: DatabaseStatus): StatusSnapshot {
    const s = this.sources;
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
      uptimeSeconds: Math.floor((this.now() - s.startedAt) / 1000),
      components: { database, cache: cacheStatus(cache), provider, websocket: { clients: s.websocketClients() } },
    };
  }

  /**
   * The serialized status and its length in bytes: rebuilt at most once a second, and at once
   * when the database's mode, breaker or count of writes waiting for PostgreSQL changed.
   */
  encoded(): { body: string; bytes: number } {
    const now = this.now();
    const database = databaseStatus(this.sources.store.health());
    const kept = this.cached;
    if (kept === undefined || now - kept.at >= 1000 || !sameDatabase(kept.snapshot.components.database, database)) {
      const snapshot = this.build(database);
      const body = JSON.stringify(snapshot);
      this.cached = { at: now, body, bytes: Buffer.byteLength(body), snapshot };
      return this.cached;
    }
    return kept;
  }

  invalidate(): void {
    this.cached = undefined;
  }
}
