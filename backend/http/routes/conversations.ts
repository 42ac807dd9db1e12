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
const patchBody = z
  .strictObject({
    title: z
      .string({ error: 'title must be a string' })
      .trim()
      .min(1, 'title must not be empty')
      .max(200, 'title must be at most 200 characters')
      .optional(),
    activeLeafId: z.uuid('activeLeafId must be a message id').optional(),
    model: z.string().min(1).max(200).nullable().optional(),
    systemPrompt: z
      .string()
      .max(100_000, 'systemPrompt must be at most 100000 characters')
      .refine((v) => !v.includes('\u0000'), 'systemPrompt must not contain NUL characters')
      .nullable()
      .optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'name at least one of title, activeLeafId, model, systemPrompt', path: ['title'] });

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
    const patch = parseInput(patchBody, req.body);
    // An empty system prompt clears it, like null.
    if (patch.systemPrompt === '') patch.systemPrompt = null;
    res.json(await conversations.update(id, patch));
  });

  router.delete('/conversations/:id', async (req: Request, res: Response) => {
    await conversations.remove(conversationId(req));
    res.status(204).end();
  });

  return router;
}
