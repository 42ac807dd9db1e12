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

const contexts = new WeakMap<IncomingMessage, Context>();
let counter = 0;
const prefix = randomBytes(3).toString('hex');

export function assignRequestId(req: IncomingMessage, base: Logger): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : `${prefix}-${(++counter).toString(36)}`;
  contexts.set(req, { id, base });
  return id;
}

export function requestId(req: IncomingMessage): string | undefined {
  return contexts.get(req)?.id;
}

export function requestLog(req: IncomingMessage): Logger {
  const ctx = contexts.get(req);
  if (!ctx) throw new Error('requestLog called on a request the server did not register');
  ctx.log ??= ctx.base.child({ reqId: ctx.id });
  return ctx.log;
}
