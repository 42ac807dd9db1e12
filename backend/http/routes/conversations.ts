import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { ConversationService } from '../../chat/conversations.js';
import { notFound } from '../../errors.js';
import { parseInput } from '../validation.js';

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(500).optional(),
});
const idParam = z.object({ id: z.string().min(1).max(100) });
const renameBody = z.strictObject({
  title: z
    .string({ error: (i) => (i.input === undefined ? 'title is required' : 'title must be a string') })
    .trim()
    .min(1, 'title must not be empty')
    .max(200, 'title must be at most 200 characters'),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function conversationId(req: Request): string {
  const { id } = parseInput(idParam, req.params, 'id');
  // Any string that is not an id cannot name a conversation: answer 404 without a query.
  if (!UUID.test(id)) throw notFound('conversation', id);
  return id;
}

export function conversationRoutes(conversations: ConversationService): Router {
  const router = Router();

  router.get('/conversations', async (req: Request, res: Response) => {
    const q = parseInput(listQuery, req.query, 'query');
    res.json(await conversations.list(q.limit, q.cursor));
  });

  router.get('/conversations/:id', async (req: Request, res: Response) => {
    res.json(await conversations.get(conversationId(req)));
  });

  router.patch('/conversations/:id', async (req: Request, res: Response) => {
    const id = conversationId(req);
    const { title } = parseInput(renameBody, req.body);
    res.json(await conversations.rename(id, title));
  });

  router.delete('/conversations/:id', async (req: Request, res: Response) => {
    await conversations.remove(conversationId(req));
    res.status(204).end();
  });

  return router;
}
