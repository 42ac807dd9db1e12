import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '../errors.js';
import { httpStatusOf } from '../http/errors.js';
import { requestLog } from '../http/request-context.js';
import { ProviderError } from '../providers/errors.js';

/**
 * Orchestra's errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}` with the
 * status OpenAI would use, so an SDK raises the class its user expects (AuthenticationError,
 * BadRequestError, NotFoundError, RateLimitError, InternalServerError …). `param` and `code` are
 * null, never "", when there is nothing to say.
 */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface OpenAIErrorReply {
  status: number;
  body: OpenAIErrorBody;
  /** Seconds, for 429 and 503 answers. */
  retryAfter?: string;
}

const snake = (code: string): string => code.replaceAll('-', '_');

function reply(status: number, type: string, message: string, code: string | null, param: string | null = null): OpenAIErrorReply {
  return { status, body: { error: { message, type, param, code } } };
}

function typeFor(status: number): string {
  if (status === 401) return 'invalid_request_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** A failure the provider reported, translated for the client that asked Orchestra. */
function fromProvider(err: ProviderError): OpenAIErrorReply {
  const upstream = err.details?.status;
  const message = err.details?.message ?? err.message;
  const upstreamCode = err.details?.upstreamCode ?? null;
  if (err.code === 'provider-error' && upstream !== undefined) {
    if (upstream === 429) {
      const out = reply(429, 'rate_limit_error', `the model provider is rate-limiting requests: ${message}`, upstreamCode ?? 'rate_limit_exceeded');
      out.retryAfter = err.details?.retryAfter ?? '1';
      return out;
    }
    // The provider refused the request itself (bad parameters, unknown model …): the client's to fix.
    if (upstream === 400 || upstream === 404 || upstream === 413 || upstream === 422) {
      return reply(upstream, 'invalid_request_error', message, upstreamCode);
    }
    // 401/403 upstream mean Orchestra's own provider key is wrong, not the client's: a gateway failure.
    return reply(502, 'server_error', err.message, snake(err.code));
  }
  if (err.code === 'provider-timeout') return reply(504, 'server_error', err.message, 'provider_timeout');
  if (err.code === 'cancelled') return reply(499, 'server_error', err.message, 'cancelled');
  const status = httpStatusOf(err);
  const out = reply(status, typeFor(status), err.message, snake(err.code));
  if (status === 503) out.retryAfter = '1';
  return out;
}

export function toOpenAIError(err: unknown): OpenAIErrorReply {
  if (err instanceof ProviderError) return fromProvider(err);
  if (err instanceof DomainError) {
    const status = httpStatusOf(err);
    if (status === 401) return reply(401, 'invalid_request_error', err.message, 'invalid_api_key');
    if (status === 400) {
      const details = err.details as { field?: unknown; param?: unknown } | undefined;
      const param = typeof details?.param === 'string' ? details.param : typeof details?.field === 'string' ? details.field : null;
      return reply(400, 'invalid_request_error', err.message, err.code === 'invalid-request' ? null : snake(err.code), param);
    }
    if (err.code === 'model-not-found') return reply(404, 'invalid_request_error', err.message, 'model_not_found', 'model');
    if (err.code === 'rate-limited') {
      const out = reply(429, 'rate_limit_error', err.message, 'rate_limit_exceeded');
      const retryAfter = retryAfterOf(err);
      if (retryAfter !== undefined) out.retryAfter = retryAfter;
      return out;
    }
    if (err.code === 'code-validation-failed') return reply(status, 'validation_error', err.message, 'code_validation_failed');
    const out = reply(status, typeFor(status), err.message, snake(err.code));
    const retryAfter = retryAfterOf(err);
    if (retryAfter !== undefined) out.retryAfter = retryAfter;
    else if (status === 503) out.retryAfter = '1';
    return out;
  }
  // Body-parser failures carry a `type`; anything else is a bug, reported without its stack.
  if (typeof err === 'object' && err !== null && 'type' in err && typeof err.type === 'string') {
    const e = err as { type: string; limit?: number; message?: string };
    if (e.type === 'entity.too.large') {
      return reply(413, 'invalid_request_error', `the request body is larger than ${e.limit ?? 'the limit'} bytes`, 'payload_too_large');
    }
    if (e.type === 'entity.parse.failed') {
      return reply(400, 'invalid_request_error', 'We could not parse the JSON body of your request: send valid JSON with Content-Type: application/json.', 'invalid_json');
    }
    return reply(400, 'invalid_request_error', e.message ?? 'the request is not valid', null);
  }
  return reply(500, 'server_error', 'something went wrong on the server; the log has the details', 'internal_error');
}

/** A Retry-After an error carries in its details (limits may say when a slot frees up). */
function retryAfterOf(err: DomainError): string | undefined {
  const details = err.details as { retryAfter?: unknown; retryAfterSeconds?: unknown } | undefined;
  const value = details?.retryAfterSeconds ?? details?.retryAfter;
  if (typeof value === 'number' && Number.isFinite(value)) return String(Math.max(1, Math.ceil(value)));
  if (typeof value === 'string' && /^\d+$/.test(value)) return value;
  return undefined;
}

export function sendOpenAIError(res: Response, error: OpenAIErrorReply): void {
  // OpenAI clients back off on 429 by Retry-After; every 429 carries one.
  const retryAfter = error.retryAfter ?? (error.status === 429 ? '1' : undefined);
  if (retryAfter !== undefined && !res.hasHeader('Retry-After')) res.setHeader('Retry-After', retryAfter);
  res.status(error.status).json(error.body);
}

/** The error middleware of /v1: every error, the shared guards' included, leaves in OpenAI's shape. */
export function gatewayErrorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  const error = toOpenAIError(err);
  if (error.status >= 500 && !(err instanceof DomainError)) requestLog(req).error({ err }, 'unhandled error');
  if (res.headersSent) {
    // A stream already started: the route reported the failure in-band.
    if (!res.writableEnded) res.end();
    return;
  }
  sendOpenAIError(res, error);
}
