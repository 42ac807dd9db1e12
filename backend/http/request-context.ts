import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { LogFn, Logger } from 'pino';
import type { LeveledLog } from '../logging/logger.js';

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
  const ctx = contextOf(req);
  ctx.log ??= ctx.base.child({ reqId: ctx.id });
  return ctx.log;
}

/**
 * The request's logger for code that may never write a line: the child logger (requestLog) is
 * made at the first line written. A chat turn that goes well writes none at the default level,
 * and making a pino child for every turn (it serializes and redacts the bindings) cost about 1%
 * of the server's CPU per turn.
 */
export function deferredRequestLog(req: IncomingMessage): LeveledLog {
  return new DeferredRequestLog(req, contextOf(req));
}

/**
 * A class, so that every instance shares one hidden class. It was an object literal with getters:
 * each call made new getter functions, so V8 gave each object a hidden class of its own, and hidden
 * classes live in the old generation. Until a full collection, the young-generation collector
 * treats what an old object points at as alive: every chat turn's request, response, headers and
 * stored reply, reachable from those getters, lived through two young collections and was copied
 * to the old generation. With 16 turns in flight that was 8-9% of what a turn allocated (20 MB/s at
 * 3,000 turns/s), scavenge pauses of 3-5 ms, and a full collection every 3-4 s; a GET of
 * /api/status or of a conversation promoted nothing. docs/performance.md has the figures.
 */
class DeferredRequestLog implements LeveledLog {
  constructor(
    private readonly req: IncomingMessage,
    private readonly ctx: RequestContext,
  ) {}

  get debug(): LogFn {
    return this.at('debug');
  }

  get info(): LogFn {
    return this.at('info');
  }

  get warn(): LogFn {
    return this.at('warn');
  }

  get error(): LogFn {
    return this.at('error');
  }

  /** A child logs at its parent's level, so the level is asked of the parent until a child exists. */
  isLevelEnabled(level: string): boolean {
    return (this.ctx.log ?? this.ctx.base).isLevelEnabled(level);
  }

  private at(level: 'debug' | 'info' | 'warn' | 'error'): LogFn {
    if (!this.isLevelEnabled(level)) return NO_LINE;
    const log = requestLog(this.req);
    return log[level].bind(log);
  }
}

const NO_LINE: LogFn = () => {};

function contextOf(req: IncomingMessage): RequestContext {
  const ctx = (req as WithContext)[CONTEXT];
  if (!ctx) throw new Error('requestLog called on a request the server did not register');
  return ctx;
}

