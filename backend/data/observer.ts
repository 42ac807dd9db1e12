/**
 * What PostgreSQL mode reports about its replication. The store owns this interface and the
 * metrics module implements it, so storage depends on nothing above it.
 */
export interface ReplicationState {
  /** Writes waiting in the outbox. */
  pendingSync: number;
  /** Age of the oldest waiting write, seconds (0 when none waits). */
  lagSeconds: number;
  /** Where reads go now. */
  activeBackend: 'postgres' | 'sqlite';
}

export interface ReplicationObserver {
  replication(state: ReplicationState): void;
}
