import type { Kysely } from 'kysely';
import type { ApiTokensTable, BrowserSessionsTable, Database } from './schema.js';

/**
 * Where the access concern keeps its credentials: named tokens, paired browser sessions and
 * one-time pairing codes. Secrets never reach this interface, only their hashes.
 */
export type CredentialScope = 'user' | 'admin';

export interface TokenRecord {
  id: string;
  name: string;
  scope: CredentialScope;
  tokenHash: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface SessionRecord {
  id: string;
  label: string;
  scope: CredentialScope;
  secretHash: string;
  createdAt: string;
  lastSeenAt: string | null;
  address: string | null;
}

export interface PairingCodeRecord {
  codeHash: string;
  scope: CredentialScope;
  label: string | null;
  createdAt: string;
  expiresAt: string;
}

/** What redeeming a pairing code came to; `paired` means the session was stored with it. */
export type Redemption = 'paired' | 'used' | 'expired' | 'unknown';

export interface CredentialStore {
  insertToken(token: TokenRecord): Promise<void>;
  listTokens(): Promise<TokenRecord[]>;
  tokenByHash(tokenHash: string): Promise<TokenRecord | undefined>;
  /** Deletes the token; false when there was none with that id. */
  revokeToken(id: string): Promise<boolean>;
  touchToken(id: string, at: string): Promise<void>;

  listSessions(): Promise<SessionRecord[]>;
  sessionByHash(secretHash: string): Promise<SessionRecord | undefined>;
  revokeSession(id: string): Promise<boolean>;
  touchSession(id: string, at: string, address: string | null): Promise<void>;

  insertPairingCode(code: PairingCodeRecord): Promise<void>;
  /**
   * Uses the code once, atomically: the session is stored only when this call is the one that
   * marked an unexpired code used. `session` gets the code's scope and (when set) label.
   */
  redeemPairingCode(codeHash: string, now: Date, session: SessionRecord): Promise<Redemption>;
  /** Drops used and expired codes older than `before`. */
  prunePairingCodes(before: string): Promise<void>;
}

const toToken = (r: ApiTokensTable): TokenRecord => ({
  id: r.id,
  name: r.name,
  scope: r.scope,
  tokenHash: r.token_hash,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

const toSession = (r: BrowserSessionsTable): SessionRecord => ({
  id: r.id,
  label: r.label,
  scope: r.scope,
  secretHash: r.secret_hash,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  address: r.address,
});

/** The credential tables over either dialect (migration 3 creates them on both). */
export class KyselyCredentialStore implements CredentialStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insertToken(t: TokenRecord): Promise<void> {
    await this.db
      .insertInto('api_tokens')
      .values({ id: t.id, name: t.name, scope: t.scope, token_hash: t.tokenHash, created_at: t.createdAt, last_used_at: t.lastUsedAt })
      .execute();
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (await this.db.selectFrom('api_tokens').selectAll().orderBy('created_at').orderBy('id').execute()).map(toToken);
  }

  async tokenByHash(tokenHash: string): Promise<TokenRecord | undefined> {
    const row = await this.db.selectFrom('api_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row ? toToken(row) : undefined;
  }

  async revokeToken(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('api_tokens').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async touchToken(id: string, at: string): Promise<void> {
    await this.db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
  }

  async listSessions(): Promise<SessionRecord[]> {
    return (await this.db.selectFrom('browser_sessions').selectAll().orderBy('created_at').orderBy('id').execute()).map(toSession);
  }

  async sessionByHash(secretHash: string): Promise<SessionRecord | undefined> {
    const row = await this.db.selectFrom('browser_sessions').selectAll().where('secret_hash', '=', secretHash).executeTakeFirst();
    return row ? toSession(row) : undefined;
  }

  async revokeSession(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('browser_sessions').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async touchSession(id: string, at: string, address: string | null): Promise<void> {
    // A use with no known address (a local socket, a proxy that hides it) keeps the last one seen.
    const changes = address === null ? { last_seen_at: at } : { last_seen_at: at, address };
    await this.db.updateTable('browser_sessions').set(changes).where('id', '=', id).execute();
  }

  async insertPairingCode(c: PairingCodeRecord): Promise<void> {
    await this.db
      .insertInto('pairing_codes')
      .values({ code_hash: c.codeHash, scope: c.scope, label: c.label, created_at: c.createdAt, expires_at: c.expiresAt, used_at: null })
      .execute();
  }

  redeemPairingCode(codeHash: string, now: Date, session: SessionRecord): Promise<Redemption> {
    return this.db.transaction().execute(async (trx) => {
      const code = await trx.selectFrom('pairing_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
      if (!code) return 'unknown';
      if (code.used_at !== null) return 'used';
      const at = now.toISOString();
      // Marked used even when expired: a code is spent by its first presentation either way.
      const marked = await trx
        .updateTable('pairing_codes')
        .set({ used_at: at })
        .where('code_hash', '=', codeHash)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) !== 1) return 'used';
      if (Date.parse(code.expires_at) <= now.getTime()) return 'expired';
      await trx
        .insertInto('browser_sessions')
        .values({
          id: session.id,
          label: code.label ?? session.label,
          scope: code.scope,
          secret_hash: session.secretHash,
          created_at: session.createdAt,
          last_seen_at: session.lastSeenAt,
          address: session.address,
        })
        .execute();
      return 'paired';
    });
  }

  async prunePairingCodes(before: string): Promise<void> {
    await this.db.deleteFrom('pairing_codes').where('expires_at', '<', before).execute();
  }
}
