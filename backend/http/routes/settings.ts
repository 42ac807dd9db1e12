import { Router, type Request, type Response } from 'express';
import { principalOf } from '../../access/principal.js';
import type { SettingsService } from '../../settings/settings-service.js';

/**
 * GET /api/settings and PATCH /api/settings. Admin only: the access guard refuses other scopes for
 * everything under /api/settings before these run.
 */
export function settingsRoutes(settings: SettingsService): Router {
  const router = Router();
  router.get('/settings', (_req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(settings.view());
  });
  router.patch('/settings', async (req: Request, res: Response) => {
    const principal = principalOf(req);
    const body = await settings.update(req.body, { kind: principal?.kind ?? 'unknown', name: principal?.name ?? 'unknown' });
    res.setHeader('Cache-Control', 'no-store');
    res.json(body);
  });
  return router;
}
