import { z } from 'zod';
import type { Message } from './conversations.js';

/**
 * `POST /api/chat` and Socket.IO `chat:send`: one schema for both transports, so the same input
 * is accepted or refused with the same message whichever way it arrives.
 */
export const MAX_MESSAGE_CHARS = 100_000;

export const chatRequestSchema = z.strictObject({
  conversationId: z.uuid('conversationId must be a conversation id').optional(),
  message: z
    .string({ error: (i) => (i.input === undefined ? 'message is required' : 'message must be a string') })
    .refine((m) => m.trim().length > 0, 'message must not be empty')
    // PostgreSQL cannot store NUL in text, and no real message needs it.
    .refine((m) => !m.includes('\u0000'), 'message must not contain NUL characters')
    .refine((m) => m.length <= MAX_MESSAGE_CHARS, `message must be at most ${MAX_MESSAGE_CHARS} characters`),
  model: z.string().min(1).max(200).optional(),
  stream: z.boolean().optional(),
  cache: z.boolean().optional(),
  /** Absent: continue from the active leaf; a message id: a new branch after it; null: a new branch at the root. */
  parentId: z.uuid('parentId must be a message id').nullable().optional(),
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** `POST /api/chat` without streaming, and the SSE `done` event. */
export interface ChatResponse {
  conversationId: string;
  message: Message;
}

/** `POST /api/chat/:messageId/cancel` (202). */
export interface CancelResponse {
  messageId: string;
  cancelled: true;
}
