import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { OWNER, setPrincipal } from '../access/principal.js';
import { AppError } from './errors.js';
import { decodeComponent } from './safe-path.js';
import { makePrivateDir } from '../private-files.js';

export const TOKEN_COOKIE = 'orchestra_token';

/**
 * The API token: API_TOKEN when set, else generated once and kept in DATA_DIR/api-token with mode
 * 0600, so a restart keeps paired browsers and scripts working.
 */
export function resolveToken(configured: string | undefined, dataDir: string): string {
  if (configured !== undefined) return configured;
  const file = path.join(dataDir, 'api-token');
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 16) {
      // A token file written by an older version (or copied in) may be readable by others.
      chmodSync(file, 0o600);
      return existing;
    }
  } catch {
    // first start: generate below
  }
  makePrivateDir(dataDir);
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    // A malformed escape is no credential (decodeURIComponent would throw out of a handshake).
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** The credential a request or handshake carries: a bearer token, or the pairing cookie. */
export function presentedToken(headers: { authorization?: string | undefined; cookie?: string | undefined }): string | undefined {
  const auth = headers.authorization;
  if (auth !== undefined && auth.startsWith('Bearer ')) return auth.slice(7).trim();
  return cookieValue(headers.cookie, TOKEN_COOKIE);
}

export function tokenMatcher(token: string): (candidate: string | undefined) => boolean {
  const expected = Buffer.from(token);
  return (candidate) => {
    if (candidate === undefined) return false;
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}

export function requireToken(matches: (candidate: string | undefined) => boolean) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const candidate = presentedToken(req.headers);
    if (matches(candidate)) {
      setPrincipal(req, OWNER);
      next();
      return;
    }
    next(
      new AppError(
        401,
        candidate === undefined ? 'unauthorized' : 'invalid-token',
        candidate === undefined
          ? 'this route needs the API token: send "Authorization: Bearer <token>" or open the pairing link'
          : 'the API token is not valid',
      ),
    );
  };
}

/** `GET /pair?token=…` sets the HttpOnly cookie and sends the browser to the app. */
export function pairingRoute(matches: (candidate: string | undefined) => boolean, secure: () => boolean) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const token = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (!matches(token)) {
      next(new AppError(401, 'invalid-token', 'the pairing link is not valid; copy it again from the server output'));
      return;
    }
    const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict', 'Max-Age=31536000'];
    if (secure()) attributes.push('Secure');
    res.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${encodeURIComponent(token ?? '')}; ${attributes.join('; ')}`);
    res.redirect(303, '/');
  };
}
