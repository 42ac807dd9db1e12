import { Router, type Request, type Response } from 'express';
import type { ModelCatalog } from '../../providers/catalog.js';

/** GET /api/models: `{provider, models}` of the provider chat would use now. */
export function modelRoutes(models: ModelCatalog): Router {
  const router = Router();
  router.get('/models', async (_req: Request, res: Response) => {
    res.json(await models.list());
  });
  return router;
}
