import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { ChatLimits } from '../../access/chat-limits.js';
import { principalOf } from '../../access/principal.js';
import type { ChatService } from '../../chat/service.js';
import { chatRequestSchema, type CancelResponse, type ChatResponse, type ErrorCode, type Message } from '../../contract/index.js';
import { AppError } from '../errors.js';
import { requestLog } from '../request-context.js';
import { SseWriter } from '../sse.js';
import { parseInput } from '../validation.js';

const cancelParams = z.object({ messageId: z.uuid('messageId must be a message id') });

function failureOf(message: Message): AppError {
  // The stored code was written by this server's chat service, so it is one of the contract's.
  const code = (message.error?.code ?? 'internal-error') as ErrorCode;
  const status = code === 'provider-timeout' ? 504 : code.startsWith('provider') ? 502 : 500;
  return new AppError(status, code, message.error?.message ?? 'the reply failed', {
    conversationId: message.conversationId,
    messageId: message.id,
    partialContent: message.content,
  });
}

/** `limits` bounds concurrent replies (MAX_CONCURRENT_CHATS, …_PER_CLIENT); absent means unbounded. */
export function chatRoutes(chat: ChatService, limits?: ChatLimits): Router {
  const router = Router();

  router.post('/chat', async (req: Request, res: Response) => {
    const body = parseInput(chatRequestSchema, req.body);
    const wantsStream = body.stream === true || (body.stream === undefined && (req.headers.accept ?? '').includes('text/event-stream'));
    const log = requestLog(req);
    let sse: SseWriter | undefined;
    // Taken before anything is stored, so a refused request leaves no trace.
    const release = limits?.acquire(principalOf(req)) ?? (() => {});
    let started;
    try {
      started = await chat.start(
        { conversationId: body.conversationId, message: body.message, model: body.model, cache: body.cache },
        {
          transport: wantsStream ? 'sse' : 'http',
          log,
          onStart: wantsStream ? () => (sse = new SseWriter(res)) : undefined,
          onToken: wantsStream ? (t) => sse?.send('token', t) : undefined,
        },
      );
    } catch (err) {
      release();
      throw err;
    }
    started.done.then(release, release);
    // On Node 20 the request's own 'close' fires once the body is read; the response's tells us the client left.
    res.on('close', () => {
      if (!res.writableFinished) chat.cancel(started.messageId, 'client-gone');
    });
    const message = await started.done;
    if (sse) {
      if (message.status === 'error') {
        sse.send('error', {
          conversationId: message.conversationId,
          messageId: message.id,
          code: message.error?.code ?? 'internal-error',
          message: message.error?.message ?? 'the reply failed',
        });
      } else {
        sse.send('done', { conversationId: message.conversationId, message } satisfies ChatResponse);
      }
      sse.end();
      return;
    }
    if (res.destroyed) return;
    if (message.status === 'error') throw failureOf(message);
    res.status(200).json({ conversationId: message.conversationId, message } satisfies ChatResponse);
  });

  router.post('/chat/:messageId/cancel', (req: Request, res: Response) => {
    const { messageId } = parseInput(cancelParams, req.params, 'messageId');
    if (!chat.cancel(messageId, 'cancel')) {
      throw new AppError(404, 'not-streaming', `no reply ${messageId} is streaming on this server`);
    }
    res.status(202).json({ messageId, cancelled: true } satisfies CancelResponse);
  });

  return router;
}
