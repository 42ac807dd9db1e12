import type { Logger } from 'pino';
import type { CredentialStore, Redemption, SessionRecord, TokenRecord } from '../data/credentials.js';
import { newId } from '../data/ids.js';
import { notFound } from '../errors.js';
import { OWNER, type Principal, type Scope } from './principal.js';
import { hashSecret, newSecret, secretMatcher } from './secrets.js';

/** How a credential reached the server; cookies only ever hold browser sessions. */
export interface Presented {
  via: 'bearer' | 'cookie';
  secret: string;
}

export interface TokenView {
  id: string;
  name: string;
  scope: Scope;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface SessionView {
  id: string;
  label: string;
  createdAt: string;
  lastSeenAt: string | null;
  address: string | null;
  current: boolean;
}

export interface AccessServiceOptions {
  ownerToken: string;
  store: CredentialStore;
  logger: Logger;
  /** The clock; tests move it to expire pairing codes. */
  now?: () => number;
}

export const PAIRING_CODE_TTL_MS = 10 * 60_000;
/** How long a cached credential is trusted before the store is asked again (revocation elsewhere). */
const RECHECK_MS = 5_000;
/** lastUsedAt / lastSeenAt are written at most this often per credential. */
const TOUCH_EVERY_MS = 60_000;
const MAX_CACHED = 10_000;
/** A browser session unused this long is refused (the cookie's Max-Age is the same). */
export const SESSION_IDLE_MS = 30 * 24 * 3600_000;

interface Cached {
  principal: Principal;
  checkedAt: number;
}

/**
 * The access concern's one question, "who is this?", and the credentials behind it: the owner
 * token (in memory), named tokens and browser sessions (in the store, hashed), pairing codes.
 * Known credentials are answered from memory, so the request path costs one SHA-256 and a map
 * lookup; a revocation on this instance takes effect at once, one made by another instance
 * sharing the database within RECHECK_MS.
 */
export class AccessService {
  private readonly isOwner: (candidate: string | undefined) => boolean;
  private readonly store: CredentialStore;
  private readonly log: Logger;
  readonly now: () => number;
  private readonly cache = new Map<string, Cached>();
  private readonly touched = new Map<string, number>();
  private readonly revokedListeners = new Set<(credentialId: string) => void>();

  constructor(options: AccessServiceOptions) {
    this.isOwner = secretMatcher(options.ownerToken);
    this.store = options.store;
    this.log = options.logger.child({ component: 'access' });
    this.now = options.now ?? Date.now;
  }

  /** Called with the id of every credential revoked here; live sockets using it are cut. */
  onRevoked(listener: (credentialId: string) => void): () => void {
    this.revokedListeners.add(listener);
    return () => this.revokedListeners.delete(listener);
  }

  /**
   * The principal a credential speaks for, or undefined when it is not valid. Synchronous for the
   * owner token and for recently seen credentials, which keeps the hot path free of awaits.
   */
  authenticate(presented: Presented, address?: string): Principal | undefined | Promise<Principal | undefined> {
    if (presented.via === 'bearer' && this.isOwner(presented.secret)) return OWNER;
    // Bounded before hashing: no credential is this long, and hashing megabytes is work for free.
    if (presented.secret.length > 200) return undefined;
    const hash = hashSecret(presented.secret);
    const key = `${presented.via}:${hash}`;
    const cached = this.cache.get(key);
    const now = this.now();
    if (cached !== undefined && now - cached.checkedAt < RECHECK_MS) {
      this.touch(cached.principal, now, address);
      return cached.principal;
    }
    return this.lookup(presented.via, hash, key, address);
  }

  private async lookup(via: Presented['via'], hash: string, key: string, address: string | undefined): Promise<Principal | undefined> {
    let principal: Principal | undefined;
    if (via === 'bearer') {
      const token = await this.store.tokenByHash(hash);
      if (token) principal = { kind: 'token', id: token.id, name: token.name, scope: token.scope };
    } else {
      const session = await this.store.sessionByHash(hash);
      const lastSeen = session ? Date.parse(session.lastSeenAt ?? session.createdAt) : 0;
      if (session && this.now() - lastSeen < SESSION_IDLE_MS) principal = { kind: 'session', id: session.id, name: session.label, scope: session.scope };
    }
    if (principal === undefined) {
      this.cache.delete(key);
      return undefined;
    }
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    const now = this.now();
    this.cache.set(key, { principal, checkedAt: now });
    this.touch(principal, now, address);
    return principal;
  }

  /** Records use, throttled, off the request path; a failed write only loses a timestamp. */
  private touch(principal: Principal, now: number, address: string | undefined): void {
    const last = this.touched.get(principal.id);
    if (last !== undefined && now - last < TOUCH_EVERY_MS) return;
    if (this.touched.size >= MAX_CACHED) this.touched.clear();
    this.touched.set(principal.id, now);
    const at = new Date(now).toISOString();
    const write =
      principal.kind === 'token'
        ? this.store.touchToken(principal.id, at)
        : principal.kind === 'session'
          ? this.store.touchSession(principal.id, at, address ?? null)
          : undefined;
    write?.catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'could not record credential use'));
  }

  /** Whether a principal is still valid (sockets re-check their credential with this). */
  stillValid(principal: Principal): boolean {
    if (principal.kind === 'owner') return true;
    for (const c of this.cache.values()) if (c.principal.id === principal.id) return true;
    return false;
  }

  private forget(credentialId: string): void {
    for (const [key, c] of this.cache) if (c.principal.id === credentialId) this.cache.delete(key);
    this.touched.delete(credentialId);
    for (const listener of this.revokedListeners) {
      try {
        listener(credentialId);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'revocation listener failed');
      }
    }
  }

  // ---- named tokens -------------------------------------------------------------------------

  async createToken(name: string, scope: Scope): Promise<TokenView & { token: string }> {
    const token = newSecret('orc_');
    const record: TokenRecord = {
      id: newId(),
      name,
      scope,
      tokenHash: hashSecret(token),
      createdAt: new Date(this.now()).toISOString(),
      lastUsedAt: null,
    };
    await this.store.insertToken(record);
    this.log.info({ tokenId: record.id, name, scope }, 'named token created');
    return { id: record.id, name, scope, token, createdAt: record.createdAt, lastUsedAt: null };
  }

  async listTokens(): Promise<TokenView[]> {
    return (await this.store.listTokens()).map((t) => ({ id: t.id, name: t.name, scope: t.scope, createdAt: t.createdAt, lastUsedAt: t.lastUsedAt }));
  }

  async revokeToken(id: string): Promise<void> {
    if (!(await this.store.revokeToken(id))) throw notFound('token', id);
    this.log.info({ tokenId: id }, 'named token revoked');
    this.forget(id);
  }

  // ---- browser sessions ---------------------------------------------------------------------

  async listSessions(current: Principal | undefined): Promise<SessionView[]> {
    return (await this.store.listSessions()).map((s: SessionRecord) => ({
      id: s.id,
      label: s.label,
      createdAt: s.createdAt,
      lastSeenAt: s.lastSeenAt,
      address: s.address,
      current: current?.kind === 'session' && current.id === s.id,
    }));
  }

  async revokeSession(id: string): Promise<void> {
    if (!(await this.store.revokeSession(id))) throw notFound('session', id);
    this.log.info({ sessionId: id }, 'browser session revoked');
    this.forget(id);
  }

  // ---- pairing ------------------------------------------------------------------------------

  /** A fresh one-time code; only its hash is stored, so the code exists only in the answer. */
  async createPairingCode(scope: Scope = 'admin', label?: string): Promise<{ code: string; expiresAt: string }> {
    const code = newSecret('');
    const now = this.now();
    const expiresAt = new Date(now + PAIRING_CODE_TTL_MS).toISOString();
    await this.store.insertPairingCode({
      codeHash: hashSecret(code),
      scope,
      label: label ?? null,
      createdAt: new Date(now).toISOString(),
      expiresAt,
    });
    // Spent and expired codes are kept a day (so a late click still reads "used"), then dropped.
    this.store.prunePairingCodes(new Date(now - 86_400_000).toISOString()).catch(() => {});
    return { code, expiresAt };
  }

  /** Redeems a code into a new browser session; the secret goes into the cookie, its hash into the store. */
  async redeemPairingCode(code: string, label: string, address: string | undefined): Promise<{ outcome: Redemption; secret?: string }> {
    if (code.length === 0 || code.length > 200) return { outcome: 'unknown' };
    const secret = newSecret('');
    const now = this.now();
    const session: SessionRecord = {
      id: newId(),
      label,
      scope: 'admin',
      secretHash: hashSecret(secret),
      createdAt: new Date(now).toISOString(),
      lastSeenAt: new Date(now).toISOString(),
      address: address ?? null,
    };
    const outcome = await this.store.redeemPairingCode(hashSecret(code), new Date(now), session);
    if (outcome !== 'paired') return { outcome };
    this.log.info({ sessionId: session.id, address }, 'browser paired');
    return { outcome, secret };
  }
}
