import type { IncomingMessage } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { NextFunction, Request, Response } from 'express';
import { MinuteWindows } from '../access/windows.js';
import { AppError } from './errors.js';

/** Loopback clients are the desktop itself; everything else is "remote" for rate limits. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Who a request comes from, as rate limits and "is local" decisions should see it. */
export type ClientAddress = (req: Pick<IncomingMessage, 'socket' | 'headers'>) => string | undefined;

/**
 * The client address. Without TRUST_PROXY it is the socket's peer. With it, a request that arrives
 * from a loopback proxy is attributed to the address that proxy recorded in X-Forwarded-For: the
 * right-most entry that is not itself loopback (entries further left were written by the client
 * and prove nothing). Only loopback peers are trusted to set the header, so a remote client cannot
 * claim to be local by sending it. Mirrors Express's `trust proxy = loopback`.
 */
export function clientAddressResolver(trustProxy: boolean): ClientAddress {
  if (!trustProxy) return (req) => req.socket.remoteAddress;
  return (req) => {
    const peer = req.socket.remoteAddress;
    if (!isLoopback(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    const raw = Array.isArray(header) ? header.join(',') : header;
    if (raw === undefined) return peer;
    const hops = raw.split(',').map((h) => h.trim()).filter((h) => h.length > 0);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] as string;
      if (!isLoopback(hop)) return hop;
    }
    return hops[0] ?? peer;
  };
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]', '::1'];

export function isLoopbackBind(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/**
 * Host names a request may carry. Checking Host defeats DNS rebinding: a hostile page that points
 * its own name at 127.0.0.1 still sends its own name, which is not on this list.
 */
export function allowedHostNames(bindHost: string, extra: string[]): Set<string> {
  const names = new Set<string>([...LOOPBACK_HOSTS, ...extra.map((h) => h.toLowerCase())]);
  if (!isLoopbackBind(bindHost)) {
    names.add(bindHost.toLowerCase());
    if (bindHost === '0.0.0.0' || bindHost === '::') {
      for (const list of Object.values(networkInterfaces())) {
        for (const a of list ?? []) names.add(a.family === 'IPv6' ? `[${a.address}]` : a.address);
      }
    }
  }
  return names;
}

export function hostOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const h = header.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

export function hostGuard(allowed: Set<string>) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const host = hostOf(req.headers.host);
    if (host === undefined || !allowed.has(host)) {
      next(new AppError(403, 'host-not-allowed', `Host "${req.headers.host ?? ''}" is not allowed; add it to ALLOWED_HOSTS`));
      return;
    }
    next();
  };
}

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** Sent on every response: the CSP too, so no HTML page (app, static file or error page) goes without it. */
const SECURITY_HEADERS: Array<[string, string]> = [
  ['Content-Security-Policy', CONTENT_SECURITY_POLICY],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
];

export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  for (const [k, v] of SECURITY_HEADERS) res.setHeader(k, v);
  next();
}

/** CORS for an explicit origin list; never `*`, because every API call carries a credential. */
export function cors(origins: readonly string[] | (() => readonly string[])) {
  // A function is read on every request, so a list changed through the settings API applies at
  // once; the set is rebuilt only when the list itself is replaced.
  const current = typeof origins === 'function' ? origins : () => origins;
  let list = current();
  let allowed = new Set(list);
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.headers.origin;
    if (origin !== undefined && current() !== list) {
      list = current();
      allowed = new Set(list);
    }
    if (origin === undefined || !allowed.has(origin)) {
      if (origin !== undefined && req.method === 'OPTIONS') {
        next(new AppError(403, 'origin-not-allowed', `Origin ${origin} is not allowed; add it to CORS_ORIGINS`));
        return;
      }
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After, X-Orchestra-Conversation-Id, X-Orchestra-Message-Id, X-Orchestra-Validation');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PATCH, DELETE, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Accept, X-Request-Id, X-Orchestra-Conversation-Id');
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}

/**
 * A fixed-window limit per remote address. Loopback clients (the desktop UI, local scripts) are
 * never limited; remote frontends are. The windows are shared with Socket.IO, so a client's
 * requests and socket events count against one RATE_LIMIT_PER_MINUTE together.
 */
export function rateLimit(
  perMinute: number,
  windows: MinuteWindows = new MinuteWindows(),
  addressOf: ClientAddress = (req) => req.socket.remoteAddress,
) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const address = addressOf(req);
    if (isLoopback(address) || address === undefined) {
      next();
      return;
    }
    const { count, retryAfterSeconds } = windows.add(address);
    if (count > perMinute) {
      res.setHeader('Retry-After', String(retryAfterSeconds));
      next(new AppError(429, 'rate-limited', `too many requests; retry in ${retryAfterSeconds} s`, { retryAfterSeconds }));
      return;
    }
    next();
  };
}
