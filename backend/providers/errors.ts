import { BreakerOpenError, BreakerTimeoutError } from '../breaker/breaker.js';
import { DomainError, type ErrorKind } from '../errors.js';
import type { CancelSignal } from './types.js';

/**
 * Every way a model call can fail, as the kebab-case codes the HTTP and Socket.IO contracts
 * carry. The kind is fixed by the code so that a code means the same thing everywhere.
 */
export type ProviderErrorCode =
  | 'provider-unavailable'
  | 'provider-timeout'
  | 'provider-error'
  | 'provider-disconnected'
  | 'provider-circuit-open'
  | 'no-provider'
  | 'cancelled';

const KIND: Record<ProviderErrorCode, ErrorKind> = {
  'provider-unavailable': 'unavailable',
  'provider-timeout': 'timeout',
  'provider-error': 'upstream',
  'provider-disconnected': 'upstream',
  'provider-circuit-open': 'unavailable',
  'no-provider': 'unavailable',
  cancelled: 'cancelled',
};

export interface ProviderErrorDetails {
  /** Provider id, when the error belongs to one. */
  provider?: string;
  /** Upstream HTTP status, for `provider-error`. */
  status?: number;
  /** Upstream error message, for `provider-error`. */
  message?: string;
  /** Upstream error code or type, when it sent one. */
  upstreamCode?: string;
  /** Upstream `Retry-After`, for a `provider-error` the provider rate-limited. */
  retryAfter?: string;
  /** Probed base URLs, for `no-provider`. */
  probed?: string[];
}

export class ProviderError extends DomainError {
  declare readonly code: ProviderErrorCode;
  declare readonly details: ProviderErrorDetails | undefined;

  constructor(code: ProviderErrorCode, message: string, details?: ProviderErrorDetails, cause?: unknown) {
    super(KIND[code], code, message, details);
    this.name = 'ProviderError';
    if (cause !== undefined) this.cause = cause;
  }
}

/**
 * Whether an error says something about the provider's health, so it should count towards
 * opening its breaker. A caller's cancel and a request the upstream rejected as bad (4xx other
 * than 408/429) say nothing about the provider; anything unrecognised does.
 */
export function isProviderFailure(err: unknown): boolean {
  if (!(err instanceof ProviderError)) return true;
  switch (err.code) {
    case 'cancelled':
    case 'no-provider':
    case 'provider-circuit-open':
      return false;
    case 'provider-error': {
      const status = err.details?.status;
      if (status === undefined || status >= 500) return true;
      return status === 408 || status === 429;
    }
    default:
      return true;
  }
}

/** Whether the error was a cancel by the caller (not a failure, nothing to report). */
export function isCancelled(err: unknown): boolean {
  return err instanceof ProviderError && err.code === 'cancelled';
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Node wraps some connect failures (happy eyeballs) in an AggregateError of per-address errors.
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const c = errorCode(inner);
      if (c !== undefined) return c;
    }
  }
  return undefined;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message !== '' ? err.message : (errorCode(err) ?? err.name);
  return String(err);
}

export type ProviderPhase = 'connect' | 'stream';

/**
 * Turns whatever undici, the breaker or the network threw into a ProviderError. `phase` says
 * whether the response headers had arrived: a reset before them means the provider is not
 * there, after them that it cut the reply short.
 */
export function toProviderError(
  err: unknown,
  ctx: { provider: string; baseUrl: string; phase: ProviderPhase; signal?: CancelSignal | undefined },
): ProviderError {
  if (ctx.signal?.aborted === true) {
    return err instanceof ProviderError && err.code === 'cancelled'
      ? err
      : new ProviderError('cancelled', 'the request was cancelled', { provider: ctx.provider }, err);
  }
  if (err instanceof ProviderError) return err;
  const details = { provider: ctx.provider };
  if (err instanceof BreakerOpenError) {
    return new ProviderError(
      'provider-circuit-open',
      `${ctx.baseUrl} failed repeatedly; not calling it again until its breaker lets a trial through`,
      details,
      err,
    );
  }
  if (err instanceof BreakerTimeoutError) {
    return new ProviderError('provider-timeout', `${ctx.baseUrl} did not answer in time`, details, err);
  }
  const code = errorCode(err);
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    const what =
      code === 'UND_ERR_CONNECT_TIMEOUT'
        ? 'connecting to'
        : code === 'UND_ERR_HEADERS_TIMEOUT'
          ? 'waiting for a response from'
          : 'waiting for more of the reply from';
    return new ProviderError('provider-timeout', `timed out ${what} ${ctx.baseUrl}`, details, err);
  }
  if (ctx.phase === 'stream') {
    return new ProviderError(
      'provider-disconnected',
      `${ctx.baseUrl} ended the reply before it was complete (${describe(err)})`,
      details,
      err,
    );
  }
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
    return new ProviderError('provider-unavailable', `cannot reach ${ctx.baseUrl} (${code})`, details, err);
  }
  return new ProviderError('provider-unavailable', `cannot reach ${ctx.baseUrl} (${describe(err)})`, details, err);
}

export function noProviderError(probed: string[]): ProviderError {
  return new ProviderError(
    'no-provider',
    'No model provider is configured and none answered on this machine. Set LLM_BASE_URL to an ' +
      'OpenAI-compatible endpoint (with LLM_API_KEY and LLM_MODEL if it needs them), or start ' +
      'Ollama (http://127.0.0.1:11434) or the LM Studio local server (http://127.0.0.1:1234).',
    { probed },
  );
}
