import type { ErrorCode } from './contract/errors.js';

/**
 * What kind of failure an error is, independent of any transport. Services and providers throw
 * DomainErrors; each transport maps the kind to its own wire (HTTP picks a status in http/, the
 * Socket.IO ack carries the code, the OpenAI gateway its own error type), so a service can be
 * reused by any of them.
 */
export type ErrorKind =
  /** The input is not acceptable as sent. */
  | 'invalid'
  /** The input is too large to accept. */
  | 'too-large'
  /** The request's format (media type) is not one that is spoken. */
  | 'unsupported'
  /** No or wrong credentials. */
  | 'unauthenticated'
  /** Known caller, not allowed. */
  | 'forbidden'
  | 'not-found'
  /** Conflicts with the current state (a locked setting, a duplicate). */
  | 'conflict'
  /** Over a rate or concurrency limit. */
  | 'too-many'
  /** The caller stopped it. */
  | 'cancelled'
  /** A dependency (provider, database) or the server itself cannot serve now. */
  | 'unavailable'
  /** A dependency did not answer in time. */
  | 'timeout'
  /** A dependency answered with an error or broke off. */
  | 'upstream'
  /** Not built into this server. */
  | 'not-implemented'
  /** A bug or something unforeseen. */
  | 'internal';

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string, id: string): DomainError => new DomainError('not-found', 'not-found', `${what} ${id} does not exist`);

export const invalid = (message: string, details?: unknown): DomainError => new DomainError('invalid', 'invalid-request', message, details);
