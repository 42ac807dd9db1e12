import { DomainError } from '../errors.js';
import { MinuteWindows } from './windows.js';

/** Failed credentials a source may present in one minute before it is locked out. */
export const LOCKOUT_FAILURES = 20;

/**
 * Locks out a source (remote address) that presented LOCKOUT_FAILURES wrong credentials or
 * pairing codes within a minute, until that minute is over. While locked, every credentialed
 * request and handshake from it is refused, right credential or not, so guessing learns nothing.
 * Loopback counts too: a hostile page in a local browser is a loopback client.
 */
export class Lockout {
  private readonly failures: MinuteWindows;

  constructor(now: () => number = Date.now) {
    this.failures = new MinuteWindows(now);
  }

  /** Throws 429 `rate-limited` while the source is locked out. */
  check(source: string | undefined): void {
    const { count, retryAfterSeconds } = this.failures.peek(source ?? 'unknown');
    if (count >= LOCKOUT_FAILURES) throw lockedOut(retryAfterSeconds);
  }

  fail(source: string | undefined): void {
    this.failures.add(source ?? 'unknown');
  }
}

export function lockedOut(retryAfterSeconds: number): DomainError {
  return new DomainError(
    'too-many',
    'rate-limited',
    `too many failed credentials from this address; retry in ${retryAfterSeconds} s`,
    { retryAfterSeconds, reason: 'locked-out' },
  );
}

/** The Retry-After value an error carries, when it carries one. */
export function retryAfterOf(err: DomainError): number | undefined {
  const d = err.details as { retryAfterSeconds?: unknown } | undefined;
  return typeof d?.retryAfterSeconds === 'number' ? d.retryAfterSeconds : undefined;
}
