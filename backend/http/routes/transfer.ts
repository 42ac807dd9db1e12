import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { ConversationService } from '../../chat/conversations.js';
import { exportJson, exportMarkdown, importConversations } from '../../chat/transfer.js';
import { notFound } from '../../errors.js';
import { parseInput } from '../validation.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const exportQuery = z.object({ format: z.enum(['md', 'json']).default('json') });

/** A file name for Content-Disposition: the title's safe characters only. */
const fileName = (title: string, ext: string): string => `${title.replace(/[^\p{L}\p{N} _-]+/gu, '').trim().slice(0, 80) || 'conversation'}.${ext}`;

/** GET /api/conversations/:id/export and POST /api/conversations/import. */
export function transferRoutes(conversations: ConversationService): Router {
  const router = Router();

  router.get('/conversations/:id/export', async (req: Request, res: Response) => {
    const id = String(req.params.id);
    if (!UUID.test(id)) throw notFound('conversation', id);
    const { format } = parseInput(exportQuery, req.query, 'query');
    if (format === 'md') {
      const { title, text } = await exportMarkdown(conversations, id);
      res.setHeader('Content-Disposition', `attachment; filename*=UTF-8''${encodeURIComponent(fileName(title, 'md'))}`);
      res.type('text/markdown; charset=utf-8').send(text);
      return;
    }
    const body = await exportJson(conversations, id);
    res.setHeader('Content-Disposition', `attachment; filename*=UTF-8''${encodeURIComponent(fileName(body.conversation.title, 'json'))}`);
    res.json(body);
  });

  router.post('/conversations/import', async (req: Request, res: Response) => {
    res.status(201).json({ imported: await importConversations(conversations, req.body) });
  });

  return router;
}
