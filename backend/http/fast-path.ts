import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Hot routes (/healthz, /api/status, POST /api/chat) served without walking Express's router.
 * Each one runs the very same middleware functions (request id and metrics, host guard, security
 * headers, CORS, rate limit, token, JSON body) as the Express chain, in the same order, and shares
 * its error handler; it only skips the router's per-layer path matching, which costs more than
 * the read-only routes themselves.
 * Because the server creates req/res with Express's prototypes (see listen.ts), Express helpers
 * such as res.json work here too.
 */
export type FastRoutes = Map<string, RequestHandler[]>;

/** The path of a request URL, without parsing the whole URL (this runs on every request). */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

export function fastPath(routes: FastRoutes, onError: ErrorRequestHandler) {
  return (rawReq: IncomingMessage, rawRes: ServerResponse): boolean => {
    const steps = routes.get(`${rawReq.method ?? 'GET'} ${pathOf(rawReq.url)}`);
    if (steps === undefined) return false;
    const req = rawReq as Request;
    const res = rawRes as Response;
    (req as { res?: Response }).res = res;
    (res as { req?: Request }).req = req;
    res.locals = Object.create(null) as Record<string, unknown>;
    let i = 0;
    const next: NextFunction = (err?: unknown) => {
      if (err !== undefined && err !== null && err !== 'route' && err !== 'router') {
        onError(err, req, res, () => {});
        return;
      }
      const step = steps[i++];
      if (step === undefined) return;
      try {
        const result: unknown = step(req, res, next);
        if (result instanceof Promise) result.catch(next);
      } catch (e) {
        next(e);
      }
    };
    next();
    return true;
  };
}
