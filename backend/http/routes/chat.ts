import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { ChatLimits } from '../../access/chat-limits.js';
import { principalOf } from '../../access/principal.js';
import { messageOf, uncovered, type ReplyCatchUp, type ReplyFeed } from '../../chat/replies.js';
import type { ChatService, StartedTurn, TurnOptions } from '../../chat/service.js';
import {
  chatRequestSchema,
  type CancelResponse,
  type ChatResponse,
  type ErrorCode,
  type Message,
  type ReplyEvent,
} from '../../contract/index.js';
import { AppError } from '../errors.js';
import { deferredRequestLog } from '../request-context.js';
import { SseWriter } from '../sse.js';
import { parseInput } from '../validation.js';

const cancelParams = z.object({ messageId: z.uuid('messageId must be a message id') });
const regenerateBody = z.strictObject({ stream: z.boolean().optional(), model: z.string().min(1).max(200).optional() });
const lastEventId = z.coerce.number().int().min(-1);

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

/** Sends the SSE frame of a reply event; true when it ends the stream. */
function sendEvent(sse: SseWriter, e: ReplyEvent): boolean {
  if (e.kind === 'token') {
    sse.send('token', e.event, e.event.seq);
    return false;
  }
  if (e.kind === 'done') sse.send('done', e.event);
  else sse.send('error', e.event);
  return true;
}

const errorEventOf = (m: Message): { conversationId: string; messageId: string; code: string; message: string } => ({
  conversationId: m.conversationId,
  messageId: m.id,
  code: m.error?.code ?? 'internal-error',
  message: m.error?.message ?? 'the reply failed',
});

const wantsEventStream = (req: Request, stream: boolean | undefined): boolean =>
  stream === true || (stream === undefined && (req.headers.accept ?? '').includes('text/event-stream'));

/**
 * Answers a turn like POST /api/chat: JSON with the stored reply, or SSE as it streams. `limits`
 * bounds concurrent replies (MAX_CONCURRENT_CHATS, …_PER_CLIENT); absent means unbounded.
 */
async function answer(
  req: Request,
  res: Response,
  wantsStream: boolean,
  limits: ChatLimits | undefined,
  begin: (options: TurnOptions) => Promise<StartedTurn>,
): Promise<void> {
  let sse: SseWriter | undefined;
  // Taken before anything is stored, so a refused request leaves no trace.
  const release = limits?.acquire(principalOf(req)) ?? (() => {});
  let started: StartedTurn;
  try {
    // A client that goes away does not stop the reply; it can follow it again at /chat/:id/stream.
    started = await begin({
      transport: wantsStream ? 'sse' : 'http',
      log: deferredRequestLog(req),
      onStart: wantsStream ? () => (sse = new SseWriter(res)) : undefined,
      onToken: wantsStream ? (t) => sse?.send('token', t, t.seq) : undefined,
    });
  } catch (err) {
    release();
    throw err;
  }
  started.done.then(release, release);
  const message = await started.done;
  if (sse) {
    if (message.status === 'error') sse.send('error', errorEventOf(message));
    else sse.send('done', { conversationId: message.conversationId, message });
    sse.end();
    return;
  }
  if (res.destroyed) return;
  if (message.status === 'error') throw failureOf(message);
  // The headers res.json would send, written as /api/status does: res.json looks the content type
  // up by name and parses it again to add the charset, on every turn.
  const json = JSON.stringify({ conversationId: message.conversationId, message } satisfies ChatResponse);
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);
}

export interface ReplyFollowing {
  feed: ReplyFeed;
  catchUp: ReplyCatchUp;
}

/**
 * GET /chat/:messageId/stream: what was generated so far (after Last-Event-ID), then the rest
 * live, then done. A finished message answers with its content and done at once.
 */
function followRoute({ feed, catchUp }: ReplyFollowing) {
  return async (req: Request, res: Response): Promise<void> => {
    const { messageId } = parseInput(cancelParams, req.params, 'messageId');
    const header = req.headers['last-event-id'];
    const after = header === undefined || header === '' ? -1 : parseInput(lastEventId, String(header), 'Last-Event-ID');
    const buffer: ReplyEvent[] = [];
    let sse: SseWriter | undefined;
    let live = false;
    const finish = (): void => {
      stop();
      sse?.end();
    };
    const stop = feed.onMessage(messageId, (e) => {
      if (!live || !sse) buffer.push(e);
      else if (sendEvent(sse, e)) finish();
    });
    res.on('close', stop);
    try {
      const found = await catchUp.message(messageId, () => buffer);
      if (!found) throw new AppError(404, 'not-found', `message ${messageId} does not exist`);
      sse = new SseWriter(res);
      if ('finished' in found) {
        const m = found.finished;
        if (after < 0 && m.content.length > 0) sse.send('token', { conversationId: m.conversationId, messageId: m.id, seq: 0, delta: m.content }, 0);
        if (m.status === 'error') sse.send('error', errorEventOf(m));
        else sse.send('done', { conversationId: m.conversationId, message: m });
        finish();
        return;
      }
      const snap = found.snapshot;
      // The text so far (after Last-Event-ID) as one token event that carries the last seq.
      if (snap.seq > after) {
        const from = after < 0 ? 0 : (snap.ends[after] ?? 0);
        sse.send('token', { conversationId: snap.conversationId, messageId, seq: snap.seq, delta: snap.content.slice(from) }, snap.seq);
      }
      const covered = new Map([[messageId, Math.max(snap.seq, after)]]);
      for (const e of uncovered(buffer.filter((b) => messageOf(b) === messageId), covered)) {
        if (sendEvent(sse, e)) {
          finish();
          return;
        }
      }
      live = true;
    } catch (err) {
      stop();
      if (!sse) throw err;
      sse.end();
    }
  };
}

/** POST /api/chat: one turn. The app also serves it on its fast path, past the router. */
export function chatTurnRoute(chat: ChatService, limits?: ChatLimits) {
  return async (req: Request, res: Response): Promise<void> => {
    const body = parseInput(chatRequestSchema, req.body);
    await answer(req, res, wantsEventStream(req, body.stream), limits, (options) =>
      chat.start({ conversationId: body.conversationId, message: body.message, model: body.model, cache: body.cache, parentId: body.parentId }, options),
    );
  };
}

export function chatRoutes(chat: ChatService, following?: ReplyFollowing, limits?: ChatLimits): Router {
  const router = Router();

  router.post('/chat', chatTurnRoute(chat, limits));

  router.post('/chat/:messageId/regenerate', async (req: Request, res: Response) => {
    const { messageId } = parseInput(cancelParams, req.params, 'messageId');
    const body = parseInput(regenerateBody, req.body ?? {});
    await answer(req, res, wantsEventStream(req, body.stream), limits, (options) => chat.regenerate(messageId, { ...options, model: body.model }));
  });

  if (following) router.get('/chat/:messageId/stream', followRoute(following));

  router.post('/chat/:messageId/cancel', (req: Request, res: Response) => {
    const { messageId } = parseInput(cancelParams, req.params, 'messageId');
    if (!chat.cancel(messageId, 'cancel')) {
      throw new AppError(404, 'not-streaming', `no reply ${messageId} is streaming on this server`);
    }
    res.status(202).json({ messageId, cancelled: true } satisfies CancelResponse);
  });

  return router;
}
