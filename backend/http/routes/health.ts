import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Store } from '../../data/store.js';
import type { MetricsSnapshotter } from '../../metrics/snapshot.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { StatusService } from '../../status/status.js';
import { AppError } from '../errors.js';

const HEALTHY = JSON.stringify({ status: 'ok' });

/** Liveness and readiness: open to load balancers and process managers, no token needed. */
export function probeRoutes(store: Store, isClosing: () => boolean): { router: Router; healthz: RequestHandler } {
  const router = Router();
  const healthz = (_req: Request, res: Response): void => {
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': HEALTHY.length });
    res.end(HEALTHY);
  };
  router.get('/healthz', healthz);
  router.get('/readyz', async (_req: Request, res: Response) => {
    if (isClosing()) throw new AppError(503, 'not-ready', 'the server is shutting down', { component: 'server' });
    try {
      await store.ping();
    } catch (err) {
      throw new AppError(503, 'not-ready', `the database does not answer: ${(err as Error).message}`, { component: 'database' });
    }
    res.json({ status: 'ready' });
  });
  return { router, healthz };
}

export function statusRoutes(status: StatusService, snapshotter: MetricsSnapshotter): { router: Router; status: RequestHandler } {
  const router = Router();
  const handler = (_req: Request, res: Response): void => {
    const { body, bytes } = status.encoded();
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': bytes });
    res.end(body);
  };
  router.get('/status', handler);
  router.get('/metrics', async (_req: Request, res: Response) => {
    res.json(await snapshotter.snapshot());
  });
  return { router, status: handler };
}

export function prometheusRoute(metrics: Metrics) {
  return async (_req: Request, res: Response): Promise<void> => {
    const text = await metrics.registry.metrics();
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(text);
  };
}
