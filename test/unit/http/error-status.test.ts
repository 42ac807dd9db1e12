import { describe, expect, it } from 'vitest';
import { errorBody } from '../../../backend/contract/errors.js';
import { DomainError, invalid, notFound, type ErrorKind } from '../../../backend/errors.js';
import { AppError, httpStatusOf } from '../../../backend/http/errors.js';
import { ProviderError, type ProviderErrorCode } from '../../../backend/providers/errors.js';

/** The HTTP statuses the contract has always given these codes; the domain errors must keep them. */
describe('HTTP status of domain errors', () => {
  const providerStatuses: Array<[ProviderErrorCode, number]> = [
    ['provider-unavailable', 503],
    ['provider-timeout', 504],
    ['provider-error', 502],
    ['provider-disconnected', 502],
    ['provider-circuit-open', 503],
    ['no-provider', 503],
    ['cancelled', 499],
  ];
  it.each(providerStatuses)('provider %s is %i', (code, status) => {
    expect(httpStatusOf(new ProviderError(code, 'x'))).toBe(status);
  });

  it('keeps the service errors at their statuses', () => {
    expect(httpStatusOf(notFound('conversation', 'abc'))).toBe(404);
    expect(httpStatusOf(invalid('cursor is not valid', { field: 'cursor' }))).toBe(400);
    expect(httpStatusOf(new DomainError('unavailable', 'shutting-down', 'bye'))).toBe(503);
    expect(httpStatusOf(new DomainError('cancelled', 'cancelled', 'stopped'))).toBe(499);
    expect(httpStatusOf(new DomainError('invalid', 'invalid-provider-url', 'bad'))).toBe(400);
  });

  it('gives every kind a status of its class', () => {
    const kinds: Array<[ErrorKind, number]> = [
      ['invalid', 400],
      ['unauthenticated', 401],
      ['forbidden', 403],
      ['not-found', 404],
      ['conflict', 409],
      ['too-large', 413],
      ['unsupported', 415],
      ['too-many', 429],
      ['cancelled', 499],
      ['internal', 500],
      ['not-implemented', 501],
      ['upstream', 502],
      ['unavailable', 503],
      ['timeout', 504],
    ];
    for (const [kind, status] of kinds) expect(httpStatusOf(new DomainError(kind, 'internal-error', kind)), kind).toBe(status);
  });

  it('keeps the status an HTTP-layer error was raised with, and derives its kind from it', () => {
    const stored = new AppError(502, 'provider-unavailable', 'the reply failed');
    expect(httpStatusOf(stored)).toBe(502);
    expect(stored.kind).toBe('upstream');
    expect(new AppError(429, 'rate-limited', 'slow down').kind).toBe('too-many');
    expect(new AppError(403, 'host-not-allowed', 'no').kind).toBe('forbidden');
  });

  it('has one body shape for every transport, without empty details', () => {
    expect(errorBody(notFound('conversation', 'abc'))).toEqual({ error: { code: 'not-found', message: 'conversation abc does not exist' } });
    expect(errorBody(invalid('limit: too big', { field: 'limit' }))).toEqual({
      error: { code: 'invalid-request', message: 'limit: too big', details: { field: 'limit' } },
    });
  });
});
