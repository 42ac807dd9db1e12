import type { Logger } from 'pino';
import type { CredentialStore, PairingCodeRecord, Redemption, SessionRecord, TokenRecord } from './credentials.js';
import type {
  Conversation,
  ConversationWithMessages,
  ListOptions,
  Message,
  Mutation,
  Page,
  SearchHit,
  Store,
  StoreHealth,
  SyncStatus,
} from './store.js';

/**
 * Opens the store for a new DATABASE_URL while `current` still serves. Returns `current` itself
 * when it could switch in place (one PostgreSQL URL to another). Writes are held while it runs.
 */
export type StoreSwitch = (databaseUrl: string, current: Store) => Promise<Store>;

export interface SwitchHooks {
  /**
   * Runs before writes are held: copies the bulk of the rows while the current store still takes
   * writes, so the switch itself only carries what changed meanwhile.
   */
  precopy?: (databaseUrl: string, current: Store) => Promise<void>;
  /** After a switch swapped the store in. */
  onSwitched?: (store: Store) => void;
}

/** One store the wrapper delegated to, with the calls still running on it. */
interface Lease {
  store: Store;
  running: number;
  drained: (() => void) | undefined;
}

/**
 * The store the services hold. It forwards every call to the store DATABASE_URL currently names
 * and can swap that store live (SQLite <-> PostgreSQL, see `reconfigure`). The bulk of the rows is
 * copied first while everything goes on; then, for the final carry and the swap, writes wait (so
 * none lands in the old store after its rows were carried over) while reads go on against the
 * old store. The old store closes once the calls already running on it finished.
 */
export class SwitchableStore implements Store {
  private lease: Lease;
  private gate: Promise<void> | undefined;
  private writers = 0;
  private writersDrained: (() => void) | undefined;
  readonly credentials: CredentialStore;

  constructor(
    initial: Store,
    private readonly switchTo: StoreSwitch,
    private readonly log: Logger,
    private readonly hooks: SwitchHooks = {},
  ) {
    this.lease = { store: initial, running: 0, drained: undefined };
    this.credentials = new SwitchableCredentials(
      (fn) => this.read((s) => fn(s.credentials)),
      (fn) => this.write((s) => fn(s.credentials)),
    );
  }

  /** The store in use now (tests and the breakers endpoint look through the wrapper). */
  get current(): Store {
    return this.lease.store;
  }

  get backend(): 'sqlite' | 'postgres' {
    return this.lease.store.backend;
  }

  private async use<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    const lease = this.lease;
    lease.running++;
    try {
      return await fn(lease.store);
    } finally {
      lease.running--;
      if (lease.running === 0) lease.drained?.();
    }
  }

  private read<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    return this.use(fn);
  }

  private async write<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    while (this.gate) await this.gate;
    this.writers++;
    try {
      return await this.use(fn);
    } finally {
      this.writers--;
      if (this.writers === 0) this.writersDrained?.();
    }
  }

  apply(mutations: Mutation[]): Promise<void> {
    return this.write((s) => s.apply(mutations));
  }

  markInterrupted(): Promise<number> {
    return this.write((s) => s.markInterrupted());
  }

  getConversation(id: string): Promise<Conversation | undefined> {
    return this.read((s) => s.getConversation(id));
  }

  getConversationWithMessages(id: string): Promise<ConversationWithMessages | undefined> {
    return this.read((s) => s.getConversationWithMessages(id));
  }

  listConversations(options: ListOptions): Promise<Page<Conversation>> {
    return this.read((s) => s.listConversations(options));
  }

  findConversationBySource(sourceKey: string): Promise<Conversation | undefined> {
    return this.read((s) => s.findConversationBySource(sourceKey));
  }

  getMessage(id: string): Promise<Message | undefined> {
    return this.read((s) => s.getMessage(id));
  }

  listMessages(conversationId: string): Promise<Message[]> {
    return this.read((s) => s.listMessages(conversationId));
  }

  search(q: string, limit: number): Promise<SearchHit[]> {
    return this.read((s) => s.search(q, limit));
  }

  health(): StoreHealth {
    return this.lease.store.health();
  }

  ping(): Promise<void> {
    return this.read((s) => s.ping());
  }

  /** Replication state while PostgreSQL mode is in use; undefined in SQLite mode. */
  get sync(): (() => SyncStatus) | undefined {
    const store = this.lease.store;
    return store.sync ? () => (store.sync as () => SyncStatus).call(store) : undefined;
  }

  /**
   * Switches to another DATABASE_URL: in place between PostgreSQL URLs, otherwise by opening the
   * other mode's store (rows carried over, see carry-over.ts) and swapping it in. Switches are
   * serialized by the caller (LiveSettings). On failure the old store keeps serving.
   */
  async reconfigure(databaseUrl: string): Promise<void> {
    await this.hooks.precopy?.(databaseUrl, this.lease.store);
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    try {
      if (this.writers > 0) {
        await new Promise<void>((resolve) => {
          this.writersDrained = resolve;
        });
        this.writersDrained = undefined;
      }
      const old = this.lease;
      const next = await this.switchTo(databaseUrl, old.store);
      if (next !== old.store) {
        this.lease = { store: next, running: 0, drained: undefined };
        this.hooks.onSwitched?.(next);
        this.log.info({ from: old.store.backend, to: next.backend }, 'store switched');
        void this.retire(old);
      }
    } finally {
      this.gate = undefined;
      open();
    }
  }

  /** Closes a store once the reads still running on it are done. */
  private async retire(lease: Lease): Promise<void> {
    if (lease.running > 0) {
      await new Promise<void>((resolve) => {
        lease.drained = resolve;
      });
    }
    await lease.store.close().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'closing the previous store failed'));
  }

  async close(): Promise<void> {
    while (this.gate) await this.gate;
    await this.lease.store.close();
  }
}

type Run = <T>(fn: (credentials: CredentialStore) => Promise<T>) => Promise<T>;

/** The credential tables of whichever store is current; changes wait for a switch like writes. */
class SwitchableCredentials implements CredentialStore {
  constructor(
    private readonly read: Run,
    private readonly write: Run,
  ) {}

  insertToken(token: TokenRecord): Promise<void> {
    return this.write((c) => c.insertToken(token));
  }

  listTokens(): Promise<TokenRecord[]> {
    return this.read((c) => c.listTokens());
  }

  tokenByHash(tokenHash: string): Promise<TokenRecord | undefined> {
    return this.read((c) => c.tokenByHash(tokenHash));
  }

  revokeToken(id: string): Promise<boolean> {
    return this.write((c) => c.revokeToken(id));
  }

  touchToken(id: string, at: string): Promise<void> {
    return this.write((c) => c.touchToken(id, at));
  }

  listSessions(): Promise<SessionRecord[]> {
    return this.read((c) => c.listSessions());
  }

  sessionByHash(secretHash: string): Promise<SessionRecord | undefined> {
    return this.read((c) => c.sessionByHash(secretHash));
  }

  revokeSession(id: string): Promise<boolean> {
    return this.write((c) => c.revokeSession(id));
  }

  touchSession(id: string, at: string, address: string | null): Promise<void> {
    return this.write((c) => c.touchSession(id, at, address));
  }

  insertPairingCode(code: PairingCodeRecord): Promise<void> {
    return this.write((c) => c.insertPairingCode(code));
  }

  redeemPairingCode(codeHash: string, now: Date, session: SessionRecord): Promise<Redemption> {
    return this.write((c) => c.redeemPairingCode(codeHash, now, session));
  }

  prunePairingCodes(before: string): Promise<void> {
    return this.write((c) => c.prunePairingCodes(before));
  }
}
