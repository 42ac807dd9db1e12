import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';

/**
 * The request id and a logger bound to it. The child logger is made on first use, so requests
 * that log nothing (most of the fast read routes) do not pay for one. `started` feeds the
 * request metrics.
 */
export interface RequestContext {
  readonly id: string;
  readonly base: Logger;
  /** performance.now() when the request reached the server. */
  readonly started: number;
  log?: Logger;
}

// Kept on the request itself under a private symbol: a WeakMap entry per request would cost an
// ephemeron that every garbage collection has to walk, on the hottest path of the server.
const CONTEXT = Symbol('orchestra.requestContext');
type WithContext = IncomingMessage & { [CONTEXT]?: RequestContext };
let counter = 0;
const prefix = randomBytes(3).toString('hex');
const GIVEN_ID = /^[\w.-]{1,64}$/;

/** Gives the request its id (the client's X-Request-Id when it is sane) and its context. */
export function assignRequestId(req: IncomingMessage, base: Logger): RequestContext {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && GIVEN_ID.test(given) ? given : `${prefix}-${(++counter).toString(36)}`;
  const context: RequestContext = { id, base, started: performance.now() };
  (req as WithContext)[CONTEXT] = context;
  return context;
}


export function requestId(req: IncomingMessage): string | undefined {
  return (req as WithContext)[CONTEXT]?.id;
}

export function requestLog(req: IncomingMessage): Logger {
  const ctx = (req as WithContext)[CONTEXT];
  if (!ctx) throw new Error('requestLog called on a request the server did not register');
  ctx.log ??= ctx.base.child({ reqId: ctx.id });
  return ctx.log;
}

