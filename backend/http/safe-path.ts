import type { NextFunction, Request, Response } from 'express';
import { AppError } from './errors.js';
import { pathOf } from './fast-path.js';

/**
 * The one percent-decoder for request paths (and cookie values). decodeURIComponent throws
 * URIError on a malformed escape (`%`, `%zz`, `%E0%A4%A`); thrown inside a route, a static file
 * handler or a handshake, that became a 500 or killed the process. Here it is an answer: the
 * decoded text, or undefined.
 */
export function decodeComponent(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * The first middleware of every request (the fast path's too): a path that does not decode, or
 * decodes to a NUL character, is a 400 `bad-request` here, so the router's parameter decoding and
 * express.static, which run later, only ever see paths that decode.
 */
export function pathGuard(req: Request, _res: Response, next: NextFunction): void {
  const raw = pathOf(req.url);
  const decoded = decodeComponent(raw);
  if (decoded === undefined) {
    next(new AppError(400, 'bad-request', 'the request path has a malformed percent-encoding'));
    return;
  }
  if (decoded.includes('\u0000')) {
    next(new AppError(400, 'bad-request', 'the request path contains a NUL character'));
    return;
  }
  next();
}
