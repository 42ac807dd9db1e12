import { describe, expect, it } from 'vitest';
import { BreakerRegistry } from '../../../backend/breaker/breaker.js';
import { MemoryCache } from '../../../backend/cache/memory.js';
import type { StoreHealth } from '../../../backend/data/store.js';
import { StatusService } from '../../../backend/status/status.js';

// /api/status keeps its serialized body for a second. The database part must never be stale:
// `pendingSync: 0` is what an admin (or a test) waits for before trusting PostgreSQL to hold
// every write, so a body kept from before a burst of writes must not be served after it.
function service(health: StoreHealth) {
  const cache = new MemoryCache({ ttlSeconds: 60 });
  const breakers = new BreakerRegistry();
  // A clock the test moves: "within the second" must not depend on how fast the machine is.
  const clock = { now: 1_000_000 };
  const status = new StatusService({
    version: '0.0.0-test',
    startedAt: clock.now,
    now: () => clock.now,
    store: { health: () => ({ ...health }) },
    cache,
    breakers,
    provider: () => ({ id: 'fake', baseUrl: 'http://127.0.0.1:1/v1', source: 'configured', status: 'up', breaker: 'closed' }),
    websocketClients: () => 0,
  });
  const read = () => JSON.parse(status.encoded().body) as { status: string; components: { database: StoreHealth } };
  return { status, read, clock, cleanup: () => breakers.shutdown() };
}

describe('StatusService', () => {
  it('rebuilds the body at once when writes start or stop waiting for PostgreSQL', () => {
    const health: StoreHealth = { backend: 'postgres', mode: 'primary', breaker: 'closed', pendingSync: 0 };
    const { read, cleanup } = service(health);
    try {
      expect(read().components.database.pendingSync).toBe(0);
      health.pendingSync = 48;
      expect(read().components.database.pendingSync).toBe(48);
      health.pendingSync = 3;
      expect(read().components.database.pendingSync).toBe(3);
      health.pendingSync = 0;
      expect(read().components.database).toEqual({ backend: 'postgres', mode: 'primary', breaker: 'closed', pendingSync: 0 });
    } finally {
      cleanup();
    }
  });

  it('follows the database mode and breaker without waiting for the second to pass', () => {
    const health: StoreHealth = { backend: 'postgres', mode: 'primary', breaker: 'closed', pendingSync: 0 };
    const { read, cleanup } = service(health);
    try {
      expect(read().status).toBe('ok');
      health.mode = 'fallback';
      health.breaker = 'open';
      expect(read()).toMatchObject({ status: 'degraded', components: { database: { mode: 'fallback', breaker: 'open' } } });
      health.mode = 'primary';
      health.breaker = 'closed';
      expect(read()).toMatchObject({ status: 'ok', components: { database: { mode: 'primary', breaker: 'closed' } } });
    } finally {
      cleanup();
    }
  });

  it('serves the kept body while the database part is unchanged, for a second', () => {
    const health: StoreHealth = { backend: 'sqlite', mode: 'primary', breaker: null, pendingSync: 0 };
    const { status, clock, cleanup } = service(health);
    try {
      const first = status.encoded();
      clock.now += 999;
      // The same object: nothing was rebuilt or serialized again.
      expect(status.encoded()).toBe(first);
      clock.now += 1;
      const later = status.encoded();
      expect(later).not.toBe(first);
      expect(JSON.parse(later.body)).toMatchObject({ uptimeSeconds: 1 });
      status.invalidate();
      const rebuilt = status.encoded();
      expect(rebuilt).not.toBe(later);
      expect(rebuilt.bytes).toBe(Buffer.byteLength(rebuilt.body));
    } finally {
      cleanup();
    }
  });
});
