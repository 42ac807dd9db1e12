import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { ConversationService } from '../../chat/conversations.js';
import { parseInput } from '../validation.js';

const searchQuery = z.object({
  q: z.string({ error: 'q is required' }).max(1000, 'q must be at most 1000 characters'),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

/** GET /api/search?q=&limit=: ranked hits over message text and conversation titles. */
export function searchRoutes(conversations: ConversationService): Router {
  const router = Router();
  router.get('/search', async (req: Request, res: Response) => {
    const { q, limit } = parseInput(searchQuery, req.query, 'query');
    res.json({ items: await conversations.search(q, limit) });
  });
  return router;
}
