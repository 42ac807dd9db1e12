import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCache } from '../../../backend/cache/memory.js';
import { createMetrics, type Metrics } from '../../../backend/metrics/metrics.js';
import { cacheObserver, replicationObserver } from '../../../backend/metrics/storage-observers.js';

/** Storage reports through its own observer interfaces; these prove metrics records what they say. */
describe('storage observers', () => {
  let metrics: Metrics | undefined;
  afterEach(() => metrics?.close());

  it('records cache look-ups by tier and result, and Redis command durations', async () => {
    metrics = createMetrics();
    const observer = cacheObserver(metrics);
    const cache = new MemoryCache({ ttlSeconds: 60, maxEntries: 10, maxBytes: 10_000, onLookup: (tier, result) => observer.lookup(tier, result) });
    await cache.get('absent');
    await cache.set('k', 'v');
    await cache.get('k');
    await cache.get('k');
    observer.lookup('l2', 'error');
    observer.redisCommand('read', 0.002);
    const text = await metrics.registry.metrics();
    expect(text).toContain('orchestra_cache_requests_total{tier="l1",result="miss"} 1');
    expect(text).toContain('orchestra_cache_requests_total{tier="l1",result="hit"} 2');
    expect(text).toContain('orchestra_cache_requests_total{tier="l2",result="error"} 1');
    expect(text).toMatch(/orchestra_redis_command_duration_seconds_count\{command="read"\} 1/);
  });

  it('records the outbox backlog, the lag and which backend serves reads', async () => {
    metrics = createMetrics();
    const observer = replicationObserver(metrics);
    observer.replication({ pendingSync: 7, lagSeconds: 2.5, activeBackend: 'sqlite' });
    let text = await metrics.registry.metrics();
    expect(text).toContain('orchestra_outbox_backlog 7');
    expect(text).toMatch(/orchestra_replication_lag_seconds 2\.5/);
    expect(text).toContain('orchestra_db_active_backend{backend="postgres"} 0');
    expect(text).toContain('orchestra_db_active_backend{backend="sqlite"} 1');
    observer.replication({ pendingSync: 0, lagSeconds: 0, activeBackend: 'postgres' });
    text = await metrics.registry.metrics();
    expect(text).toContain('orchestra_outbox_backlog 0');
    expect(text).toContain('orchestra_db_active_backend{backend="postgres"} 1');
    expect(text).toContain('orchestra_db_active_backend{backend="sqlite"} 0');
  });
});
