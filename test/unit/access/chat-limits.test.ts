import { describe, expect, it } from 'vitest';
import { ChatLimits } from '../../../backend/access/chat-limits.js';
import { DomainError } from '../../../backend/errors.js';
import { httpStatusOf } from '../../../backend/http/errors.js';
import { OWNER, type Principal } from '../../../backend/access/principal.js';

const alice: Principal = { kind: 'token', id: 'a', name: 'alice', scope: 'user' };
const bob: Principal = { kind: 'session', id: 'b', name: 'bob', scope: 'admin' };

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof DomainError ? `${httpStatusOf(err)} ${err.code}` : 'other';
  }
};

describe('ChatLimits', () => {
  it('bounds per credential, exempts the owner, bounds the instance, and gives slots back once', () => {
    const limits = new ChatLimits({ total: 4, perClient: 2 });
    const a1 = limits.acquire(alice);
    limits.acquire(alice);
    expect(codeOf(() => limits.acquire(alice))).toBe('429 too-many-chats');
    limits.acquire(OWNER);
    limits.acquire(OWNER);
    expect(limits.inFlight).toBe(4);
    expect(codeOf(() => limits.acquire(bob))).toBe('429 too-many-chats');
    expect(codeOf(() => limits.acquire(OWNER))).toBe('429 too-many-chats');
    a1();
    a1(); // twice releases once
    expect(limits.inFlight).toBe(3);
    const b1 = limits.acquire(bob);
    expect(codeOf(() => limits.acquire(alice))).toBe('429 too-many-chats'); // instance full again
    b1();
    expect(codeOf(() => limits.acquire(alice))).toBeUndefined();
  });
});

describe('ChatLimits, exactly', () => {
  it('says which limit was hit, with a one-second Retry-After', () => {
    const limits = new ChatLimits({ total: 3, perClient: 1 });
    limits.acquire(alice);
    let err: unknown;
    try {
      limits.acquire(alice);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ kind: 'too-many', code: 'too-many-chats', details: { retryAfterSeconds: 1 } });
    expect((err as Error).message).toBe('this credential has 1 replies being generated already (MAX_CONCURRENT_CHATS_PER_CLIENT); wait for one to finish');
    limits.acquire(undefined);
    limits.acquire(undefined); // no credential: only the instance bound applies
    try {
      limits.acquire(bob);
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toBe('this server is generating 3 replies already (MAX_CONCURRENT_CHATS); retry shortly');
  });

  it('gives a credential its slots back one by one', () => {
    const limits = new ChatLimits({ total: 10, perClient: 2 });
    const first = limits.acquire(alice);
    const second = limits.acquire(alice);
    first();
    const third = limits.acquire(alice);
    expect(codeOf(() => limits.acquire(alice))).toBe('429 too-many-chats');
    second();
    third();
    expect(limits.inFlight).toBe(0);
    limits.acquire(alice);
    limits.acquire(alice);
    expect(limits.inFlight).toBe(2);
    // Another credential has its own count.
    limits.acquire(bob);
    limits.acquire(bob);
    expect(limits.inFlight).toBe(4);
  });
});
