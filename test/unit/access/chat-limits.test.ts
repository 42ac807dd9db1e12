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
