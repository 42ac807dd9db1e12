import { errorBody, type ErrorBody, type ErrorCode } from '../contract/errors.js';
import { DomainError, type ErrorKind } from '../errors.js';

/**
 * The HTTP side of the error contract: which status each kind of domain error gets. The body is
 * the contract's `{error: {code, message, details}}`, the same the Socket.IO acks carry.
 */
const STATUS_OF_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  unsupported: 415,
  'too-many': 429,
  // nginx's "client closed request": nobody is left to read it, but logs and metrics are honest.
  cancelled: 499,
  internal: 500,
  'not-implemented': 501,
  upstream: 502,
  unavailable: 503,
  timeout: 504,
};

function kindOfStatus(status: number): ErrorKind {
  for (const [kind, s] of Object.entries(STATUS_OF_KIND) as Array<[ErrorKind, number]>) if (s === status) return kind;
  return status >= 500 ? 'internal' : 'invalid';
}

/**
 * An error raised by the HTTP layer itself (routing, body parsing, host and origin checks), whose
 * status is part of what it means. Services throw DomainError instead.
 */
export class AppError extends DomainError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    details?: unknown,
  ) {
    super(kindOfStatus(status), code, message, details);
    this.name = 'AppError';
  }
}

/** The HTTP status for a domain error. */
export function httpStatusOf(err: DomainError): number {
  return err instanceof AppError ? err.status : STATUS_OF_KIND[err.kind];
}

export { errorBody, type ErrorBody };
