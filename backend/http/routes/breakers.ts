import { Router, type Request, type Response } from 'express';
import type { BreakerSnapshot } from '../../breaker/breaker.js';
import type { StoreHealth, SyncStatus } from '../../data/store.js';

/** What `GET /api/breakers` returns; the `orchestra breaker` monitor polls it. */
export interface BreakersBody {
  at: string;
  breakers: BreakerSnapshot[];
  database: StoreHealth & { sync: SyncStatus | null };
}

export interface BreakerSources {
  breakers: () => BreakerSnapshot[];
  database: () => StoreHealth;
  sync: () => SyncStatus | undefined;
}

/** Every breaker of this server with its counters, plus the outbox (PostgreSQL mode). */
export function breakerRoutes(sources: BreakerSources): Router {
  const router = Router();
  router.get('/breakers', (_req: Request, res: Response) => {
    const body: BreakersBody = {
      at: new Date().toISOString(),
      breakers: sources.breakers(),
      database: { ...sources.database(), sync: sources.sync() ?? null },
    };
    res.setHeader('Cache-Control', 'no-store');
    res.json(body);
  });
  return router;
}
