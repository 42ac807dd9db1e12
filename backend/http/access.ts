import type { TLSSocket } from 'node:tls';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { isId } from '../data/ids.js';
import { AppError } from './errors.js';
import { pathOf } from './fast-path.js';
import { CONTENT_SECURITY_POLICY } from './security.js';
import { parseInput } from './validation.js';
import type { AccessService, Presented } from '../access/access-service.js';
import { cookieValue } from '../access/cookies.js';
import { Lockout } from '../access/lockout.js';
import { principalOf, setPrincipal, type Principal } from '../access/principal.js';

/** The browser session cookie (HttpOnly; its value is a session secret, never a token). */
export const SESSION_COOKIE = 'orchestra_token';
/** A paired browser stays paired this long without pairing again (or until revoked). */
const SESSION_COOKIE_MAX_AGE = 30 * 24 * 3600;

/** Paths only an admin credential may use, including anything that will ever live under them. */
export const ADMIN_PREFIXES = ['/api/tokens', '/api/sessions', '/api/settings', '/api/pairing-codes'];

/**
 * Whether a request path is under an admin prefix. Express matches routes case-insensitively and
 * ignores a trailing slash, so the check does the same, and collapses repeated slashes.
 */
export function isAdminPath(rawPath: string): boolean {
  const p = rawPath.toLowerCase().replace(/\/{2,}/g, '/');
  return ADMIN_PREFIXES.some((prefix) => p === prefix || p.startsWith(`${prefix}/`));
}

/** The credential a request or handshake carries: a bearer token, else the session cookie. */
export function presentedCredential(headers: { authorization?: string | undefined; cookie?: string | string[] | undefined }): Presented | undefined {
  const auth = headers.authorization;
  if (auth !== undefined && auth.startsWith('Bearer ')) {
    const secret = auth.slice(7).trim();
    return secret === '' ? undefined : { via: 'bearer', secret };
  }
  const cookie = cookieValue(headers.cookie, SESSION_COOKIE);
  return cookie === undefined || cookie === '' ? undefined : { via: 'cookie', secret: cookie };
}

const unauthorized = (): AppError =>
  new AppError(401, 'unauthorized', 'this route needs a credential: send "Authorization: Bearer <token>" or pair this browser with a pairing link');
const invalid = (): AppError => new AppError(401, 'invalid-token', 'the credential is not valid (unknown, revoked or expired)');
export const forbidden = (): AppError => new AppError(403, 'forbidden', 'this route needs an admin credential');

/**
 * The one question routes ask: who is this, and may they do that? Attaches the principal, or
 * answers 401 (no or a bad credential), 403 (a `user` credential on an admin path) or 429 (the
 * source is locked out after too many bad credentials).
 */
export function accessGuard(access: AccessService, lockout: Lockout) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const source = req.socket.remoteAddress;
    try {
      lockout.check(source);
    } catch (err) {
      next(err);
      return;
    }
    const presented = presentedCredential(req.headers);
    if (presented === undefined) {
      next(unauthorized());
      return;
    }
    const finish = (principal: Principal | undefined): void => {
      if (principal === undefined) {
        lockout.fail(source);
        // A stale cookie (revoked, expired, or from the old token link) is cleared, so the app's
        // next requests carry none and one stale browser cannot lock its own address out.
        if (presented.via === 'cookie') res.setHeader('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
        next(invalid());
        return;
      }
      setPrincipal(req, principal);
      if (principal.scope !== 'admin' && isAdminPath(pathOf(req.originalUrl ?? req.url))) {
        next(forbidden());
        return;
      }
      next();
    };
    const result = access.authenticate(presented, source);
    if (result instanceof Promise) result.then(finish, next);
    else finish(result);
  };
}

/** Route-level check too, so an admin router stays admin-only wherever it is mounted. */
export function requireAdmin(req: Request, _res: Response, next: NextFunction): void {
  next(principalOf(req)?.scope === 'admin' ? undefined : forbidden());
}

const scope = z.enum(['user', 'admin'], { error: 'scope must be "user" or "admin"' });
const text = (field: string, max: number) =>
  z
    .string({ error: `${field} must be a string` })
    .trim()
    .min(1, `${field} must not be empty`)
    .max(max, `${field} must be at most ${max} characters`)
    .refine((v) => !v.includes('\u0000'), `${field} must not contain NUL characters`);
const tokenBody = z.strictObject({ name: text('name', 100), scope });
const pairingBody = z.strictObject({ scope: scope.optional(), label: text('label', 100).optional() }).optional();

function idParam(req: Request, what: string): string {
  const id = String(req.params.id ?? '');
  if (!isId(id)) throw new AppError(404, 'not-found', `${what} ${id} does not exist`);
  return id;
}

/** /api/tokens, /api/sessions and /api/pairing-codes: admin only. */
export function accessRoutes(access: AccessService): Router {
  const router = Router();
  router.use(['/tokens', '/sessions', '/pairing-codes'], requireAdmin);

  router.post('/tokens', async (req: Request, res: Response) => {
    const body = parseInput(tokenBody, req.body);
    const created = await access.createToken(body.name, body.scope);
    res.status(201).json({ id: created.id, name: created.name, scope: created.scope, token: created.token, createdAt: created.createdAt });
  });
  router.get('/tokens', async (_req: Request, res: Response) => {
    res.json({ items: await access.listTokens() });
  });
  router.delete('/tokens/:id', async (req: Request, res: Response) => {
    await access.revokeToken(idParam(req, 'token'));
    res.status(204).end();
  });

  router.get('/sessions', async (req: Request, res: Response) => {
    res.json({ items: await access.listSessions(principalOf(req)) });
  });
  router.delete('/sessions/:id', async (req: Request, res: Response) => {
    await access.revokeSession(idParam(req, 'session'));
    res.status(204).end();
  });

  router.post('/pairing-codes', async (req: Request, res: Response) => {
    const body = parseInput(pairingBody, req.body ?? undefined);
    const { code, expiresAt } = await access.createPairingCode(body?.scope ?? 'admin', body?.label);
    res.status(201).json({ code, expiresAt, path: `/pair?code=${encodeURIComponent(code)}` });
  });
  return router;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

function page(res: Response, status: number, title: string, body: string): void {
  res.status(status);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('Cache-Control', 'no-store');
  res.send(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
      `<body style="font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;line-height:1.5">` +
      `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(body)}</p>` +
      `<p>Get a fresh link with <code>orchestra pair</code> on the machine that runs the server, or from the server's start-up output.</p>` +
      `</body></html>`,
  );
}

/** A readable label for a new session: the browser's User-Agent, printable characters only. */
function sessionLabel(userAgent: string | undefined): string {
  let label = '';
  for (const ch of userAgent ?? '') if (ch >= ' ' && ch !== '\u007f') label += ch;
  return label.trim().slice(0, 120) || 'browser';
}

const OUTCOME_PAGES = {
  used: [410, 'This pairing link was already used', 'A pairing link works once. This one has been used, so it cannot pair another browser.'],
  expired: [410, 'This pairing link has expired', 'A pairing link works for 10 minutes after it is made. This one is older.'],
  unknown: [401, 'This pairing link is not valid', 'The server does not know this pairing code. Pairing links now carry a one-time code (…/pair?code=…); links with the API token no longer pair a browser.'],
} as const;

/**
 * `GET /pair?code=…`: redeems a one-time pairing code into a browser session, sets the session
 * cookie and sends the browser to the app. Any other outcome is a readable page, never a session.
 */
export function pairingRoute(access: AccessService, lockout: Lockout) {
  return async (req: Request, res: Response): Promise<void> => {
    const source = req.socket.remoteAddress;
    lockout.check(source);
    const code = typeof req.query.code === 'string' ? req.query.code : '';
    const label = sessionLabel(req.headers['user-agent']);
    const { outcome, secret } = await access.redeemPairingCode(code, label, source);
    if (outcome !== 'paired' || secret === undefined) {
      lockout.fail(source);
      const [status, title, body] = OUTCOME_PAGES[outcome === 'paired' ? 'unknown' : outcome];
      page(res, status, title, body);
      return;
    }
    const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${SESSION_COOKIE_MAX_AGE}`];
    if ((req.socket as Partial<TLSSocket>).encrypted === true) attributes.push('Secure');
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${secret}; ${attributes.join('; ')}`);
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, '/');
  };
}
