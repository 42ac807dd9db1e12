import type { CacheObserver } from '../cache/observer.js';
import type { ReplicationObserver } from '../data/observer.js';
import type { Metrics } from './metrics.js';

/** The cache's own report, recorded as cache-request and Redis-command metrics. */
export function cacheObserver(metrics: Pick<Metrics, 'cacheRequests' | 'redisCommandDuration'>): CacheObserver {
  return {
    lookup: (tier: 'l1' | 'l2', result: string) => metrics.cacheRequests.inc({ tier, result }),
    redisCommand: (command, seconds) => metrics.redisCommandDuration.observe({ command }, seconds),
  };
}

/** PostgreSQL mode's replication report, recorded as the outbox, lag and active-backend gauges. */
export function replicationObserver(metrics: Pick<Metrics, 'outboxBacklog' | 'replicationLag' | 'dbActiveBackend'>): ReplicationObserver {
  return {
    replication: (state) => {
      metrics.outboxBacklog.set(state.pendingSync);
      metrics.replicationLag.set(state.lagSeconds);
      const primary = state.activeBackend === 'postgres';
      metrics.dbActiveBackend.set({ backend: 'postgres' }, primary ? 1 : 0);
      metrics.dbActiveBackend.set({ backend: 'sqlite' }, primary ? 0 : 1);
    },
  };
}
