import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { principalOf } from '../access/principal.js';
import type { ChatService, TurnResult } from '../chat/service.js';
import type { ConversationThreads } from '../chat/threads.js';
import type { ChatLimits } from '../access/chat-limits.js';
import { DomainError } from '../errors.js';
import { AppError } from '../http/errors.js';
import { deferredRequestLog, requestLog } from '../http/request-context.js';
import { SseWriter } from '../http/sse.js';
import type { ModelCatalog } from '../providers/catalog.js';
import { ProviderError } from '../providers/errors.js';
import { gatewayErrorHandler, sendOpenAIError, toOpenAIError } from './errors.js';
import type { GatewayMetrics } from './metrics.js';
import { usageOf } from './usage.js';
import { ChunkFrames, completionObject, DONE_FRAME, errorFrame, parseCompletionRequest, type CompletionMeta } from './wire.js';

/** Request and response header that names the stored conversation. */
export const CONVERSATION_HEADER = 'X-Orchestra-Conversation-Id';
/** The stored assistant message of this completion. */
export const MESSAGE_HEADER = 'X-Orchestra-Message-Id';
/** `pass`, `fail` or `error` for code in the reply; `none` when it holds no code. */
export const VALIDATION_HEADER = 'X-Orchestra-Validation';

export interface GatewayDeps {
  chat: ChatService;
  models: ModelCatalog;
  /** The guards in front of /api (CORS, rate limit, credential), shared so limits count both. */
  guards: RequestHandler[];
  bodyLimitBytes: number;
  /** GATEWAY_BLOCK_ON_FAIL: refuse replies whose code fails validation. */
  blockOnFail: boolean;
  metrics: GatewayMetrics;
  /** Finds the conversation a client continues when it names none; absent: every such call starts one. */
  threads?: ConversationThreads;
  /** Unix seconds, reported as every model's `created`. */
  startedAt: number;
  /** MAX_CONCURRENT_CHATS and _PER_CLIENT: the same bounds as /api/chat, counted together. */
  chatLimits?: ChatLimits;
}

/** Errors that say the provider is not there; the model check passes them on as they are. */
const PROVIDER_DOWN = new Set(['no-provider', 'provider-unavailable', 'provider-circuit-open', 'provider-timeout']);

const conversationId = z.uuid();

function verdictOf(validation: unknown): string {
  if (typeof validation === 'object' && validation !== null) {
    const verdict = (validation as { verdict?: unknown }).verdict;
    if (typeof verdict === 'string') return verdict;
  }
  return 'none';
}

function findingsSummary(validation: unknown): string {
  const findings = (validation as { findings?: unknown }).findings;
  if (!Array.isArray(findings)) return '';
  return findings
    .slice(0, 3)
    .map((f: unknown) => {
      const { ruleId, line, message } = f as { ruleId?: unknown; line?: unknown; message?: unknown };
      return `${String(ruleId)} at line ${String(line)}: ${String(message)}`;
    })
    .join('; ');
}

/** Any credential may use the gateway; both scopes (user, admin) may chat. */
function requireCredential(req: Request, _res: Response, next: NextFunction): void {
  const principal = principalOf(req);
  if (principal === undefined || (principal.scope !== 'user' && principal.scope !== 'admin')) {
    next(new AppError(401, 'unauthorized', 'send an Orchestra token as "Authorization: Bearer <token>"'));
    return;
  }
  next();
}

/**
 * `/v1`: OpenAI's Chat Completions protocol in front of the one chat pipeline. This module only
 * translates: requests into ChatService turns, and turns back into `chat.completion` objects or
 * `chat.completion.chunk` streams; storage, breakers, timeouts and validation are the service's.
 */
export function gatewayRouter(deps: GatewayDeps): Router {
  const router = Router();
  router.use(...deps.guards, requireCredential);
  router.use(express.json({ limit: deps.bodyLimitBytes, strict: true }));

  const modelEntry = (id: string) => ({ id, object: 'model' as const, created: deps.startedAt, owned_by: 'orchestra' });

  router.get('/models', async (_req: Request, res: Response) => {
    const { models } = await deps.models.list();
    res.json({ object: 'list', data: models.map(modelEntry) });
  });

  // Model names may hold slashes (OpenRouter's `vendor/model`), so the rest of the path is the name.
  router.get('/models/*model', async (req: Request, res: Response) => {
    const raw: unknown = req.params.model;
    const wanted = Array.isArray(raw) ? raw.join('/') : String(raw);
    const { models } = await deps.models.list();
    if (!models.includes(wanted)) throw modelNotFound(wanted);
    res.json(modelEntry(wanted));
  });

  /** A 404 for a model the provider does not list; a provider that cannot list decides itself. */
  async function checkModel(model: string): Promise<void> {
    let models: string[];
    try {
      models = (await deps.models.list()).models;
    } catch (err) {
      if (err instanceof ProviderError && PROVIDER_DOWN.has(err.code)) throw err;
      return;
    }
    // Ollama lists `name:latest` and answers to `name` alike.
    if (models.length > 0 && !models.includes(model) && !models.includes(`${model}:latest`)) throw modelNotFound(model);
  }

  router.post('/chat/completions', async (req: Request, res: Response) => {
    const accepted = performance.now();
    const request = parseCompletionRequest(req.body);
    const principal = principalOf(req);
    const credential = principal?.name ?? 'unknown';
    const header = req.headers[CONVERSATION_HEADER.toLowerCase()];
    let continued: string | undefined;
    if (header !== undefined) {
      const parsed = conversationId.safeParse(Array.isArray(header) ? header[0] : header);
      if (!parsed.success) throw new AppError(400, 'invalid-request', `${CONVERSATION_HEADER} must be a conversation id (a UUID)`, { param: null });
      continued = parsed.data;
    }
    await checkModel(request.model);
    continued ??= await deps.threads?.find(principal?.id ?? credential, request.turns);

    const { stream, includeUsage } = request;
    // Held back until the reply is validated, when a failing reply must be refused.
    const holdAll = deps.blockOnFail;
    const held: string[] = [];
    let sse: SseWriter | undefined;
    let meta: CompletionMeta = { id: '', created: Math.floor(Date.now() / 1000), model: request.model };
    let frames = new ChunkFrames(meta, includeUsage);
    // Headers go out with the first chunk, not before: a provider that refuses the request still
    // gets its own HTTP status to the client, as OpenAI's API would answer.
    const open = (): SseWriter => {
      if (sse !== undefined) return sse;
      sse = new SseWriter(res);
      sse.frame(frames.role());
      deps.metrics.ttft.observe({ credential }, (performance.now() - accepted) / 1000);
      return sse;
    };
    const emit = (frame: string): void => {
      if (holdAll) held.push(frame);
      else open().frame(frame);
    };

    // Taken before anything is stored, so a refused request leaves no trace (429 too-many-chats).
    const release = deps.chatLimits?.acquire(principalOf(req)) ?? (() => {});
    let started;
    try {
      started = await deps.chat.start(
        { conversationId: continued, model: request.model, turns: request.turns, extra: request.extra },
        {
          transport: stream ? 'sse' : 'http',
          log: deferredRequestLog(req),
          onStart: (ids) => {
            meta = { ...meta, id: `chatcmpl-${ids.messageId}` };
            frames = new ChunkFrames(meta, includeUsage);
            res.setHeader(CONVERSATION_HEADER, ids.conversationId);
            res.setHeader(MESSAGE_HEADER, ids.messageId);
          },
          onToken: stream ? (t) => emit(frames.content(t.delta)) : undefined,
          onToolCalls: stream ? (calls) => emit(frames.toolCalls(calls)) : undefined,
        },
      );
    } catch (err) {
      release();
      throw err;
    }
    started.done.then(release, release);
    // OpenAI's semantics: a client that hangs up cancels its completion (stored as cancelled).
    res.on('close', () => {
      if (!res.writableFinished) deps.chat.cancel(started.messageId, 'client-gone');
    });
    // Gone while the turn was being stored: its 'close' has already fired.
    if (res.destroyed) deps.chat.cancel(started.messageId, 'client-gone');
    const result = await started.result;
    const { message } = result;
    const count = (outcome: string): void => {
      deps.metrics.requests.inc({ credential, outcome, stream: String(stream) });
    };
    if (res.destroyed || res.writableEnded) {
      count(message.status);
      return;
    }

    const failure = failureOf(result);
    const validation = message.validation ?? null;
    const verdict = verdictOf(validation);
    const refused =
      failure === undefined && deps.blockOnFail && verdict === 'fail'
        ? new AppError(
            422,
            'code-validation-failed',
            `The reply was refused: its code failed validation (GATEWAY_BLOCK_ON_FAIL is on). ${findingsSummary(validation)}`.trim(),
          )
        : undefined;
    const problem = failure ?? refused;
    if (problem !== undefined) {
      count(refused !== undefined ? 'refused' : message.status);
      const error = toOpenAIError(problem);
      if (sse === undefined) {
        // Nothing sent yet (or all of it held back): the client gets OpenAI's status and body.
        res.setHeader(VALIDATION_HEADER, verdict);
        sendOpenAIError(res, error);
        return;
      }
      // Mid-stream: an error frame, never a silent stop, and no [DONE] after it.
      sse.frame(errorFrame(error.body));
      sse.end();
      return;
    }

    count(message.status);
    // Before the answer ends, so the client's next request already finds its conversation.
    await deps.threads?.remember(principal?.id ?? credential, request.turns, message.content, message.conversationId).catch((err: unknown) => {
      requestLog(req).warn({ err: (err as Error).message }, 'could not remember the conversation thread');
    });
    const usage = usageOf(result.usage, request.turns, message.content, result.toolCalls);
    deps.metrics.tokens.inc({ credential, kind: 'prompt' }, usage.prompt_tokens);
    deps.metrics.tokens.inc({ credential, kind: 'completion' }, usage.completion_tokens);
    const finishReason = result.toolCalls.length > 0 ? 'tool_calls' : (result.finishReason ?? 'stop');
    const orchestra = { conversationId: message.conversationId, messageId: message.id, validation };

    if (!stream) {
      res.setHeader(VALIDATION_HEADER, verdict);
      res.status(200).json(completionObject(meta, message.content, result.toolCalls, finishReason, usage, orchestra));
      return;
    }
    if (sse === undefined) res.setHeader(VALIDATION_HEADER, verdict);
    const writer = open();
    if (held.length > 0) writer.frame(held.join(''));
    writer.frame(frames.finish(finishReason, includeUsage ? undefined : orchestra));
    if (includeUsage) writer.frame(frames.usage(usage, orchestra));
    writer.frame(DONE_FRAME);
    writer.end();
  });

  router.use((req: Request) => {
    throw new AppError(404, 'unknown-url', `Unknown request URL: ${req.method} ${req.originalUrl}. Orchestra serves GET /v1/models and POST /v1/chat/completions.`);
  });
  router.use(gatewayErrorHandler);
  return router;
}

function modelNotFound(model: string): AppError {
  return new AppError(404, 'model-not-found', `The model \`${model}\` does not exist; GET /v1/models lists the models of the current provider.`);
}

/** Why a finished turn is not a completion to hand out, if it is not. */
function failureOf(result: TurnResult): DomainError | undefined {
  switch (result.message.status) {
    case 'complete':
      return undefined;
    case 'error':
      return result.error ?? new AppError(502, 'provider-error', result.message.error?.message ?? 'the reply failed');
    case 'interrupted':
      return new AppError(503, 'shutting-down', 'the server is shutting down; try again in a moment');
    default:
      return new AppError(409, 'reply-cancelled', 'the reply was cancelled on the server before it finished');
  }
}
