import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';

/**
 * The request id and a logger bound to it. The child logger is made on first use, so requests
 * that log nothing (most of the fast read routes) do not pay for one.
 */
interface Context {
  id: string;
  base: Logger;
  log?: Logger;
}

// Kept on the request itself under a private symbol: a WeakMap entry per request would cost an
// ephemeron that every garbage collection has to walk, on the hottest path of the server.
const CONTEXT = Symbol('orchestra.requestContext');
type WithContext = IncomingMessage & { [CONTEXT]?: Context };
let counter = 0;
const prefix = randomBytes(3).toString('hex');
const GIVEN_ID = /^[\w.-]{1,64}$/;

export function assignRequestId(req: IncomingMessage, base: Logger): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && GIVEN_ID.test(given) ? given : `${prefix}-${(++counter).toString(36)}`;
  (req as WithContext)[CONTEXT] = { id, base };
  return id;
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
