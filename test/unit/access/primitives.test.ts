/**
 * The small pieces the access guard is built from: minute windows, the failed-credential lock-out,
 * secrets and their comparison, the owner token file and the principal on a request.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCKOUT_FAILURES, Lockout, lockedOut, retryAfterOf } from '../../../backend/access/lockout.js';
import { ownerTokenFile, resolveToken } from '../../../backend/access/owner-token.js';
import { OWNER, principalOf, setPrincipal } from '../../../backend/access/principal.js';
import { hashSecret, newSecret, secretMatcher } from '../../../backend/access/secrets.js';
import { MinuteWindows } from '../../../backend/access/windows.js';
import { DomainError } from '../../../backend/errors.js';
import { tempDirs } from '../../fixtures/test-server.js';

const dir = tempDirs();

describe('MinuteWindows', () => {
  it('counts per key within a fixed minute and says how long until it resets', () => {
    const clock = { t: 1_000_000 };
    const w = new MinuteWindows(() => clock.t);
    expect(w.peek('a')).toEqual({ count: 0, retryAfterSeconds: 0 });
    expect(w.add('a')).toEqual({ count: 1, retryAfterSeconds: 60 });
    expect(w.add('a', 3)).toEqual({ count: 4, retryAfterSeconds: 60 });
    expect(w.add('b')).toEqual({ count: 1, retryAfterSeconds: 60 });
    clock.t += 30_500;
    expect(w.peek('a')).toEqual({ count: 4, retryAfterSeconds: 30 });
    expect(w.add('a')).toEqual({ count: 5, retryAfterSeconds: 30 });
    clock.t += 29_000; // 59.5 s into the window: still at least one second to wait
    expect(w.peek('a')).toEqual({ count: 5, retryAfterSeconds: 1 });
    clock.t += 499;
    expect(w.peek('a')).toEqual({ count: 5, retryAfterSeconds: 1 });
    clock.t += 1; // exactly a minute: a new window
    expect(w.peek('a')).toEqual({ count: 0, retryAfterSeconds: 0 });
    expect(w.add('a')).toEqual({ count: 1, retryAfterSeconds: 60 });
  });

  it('sweeps windows that ended, once a minute, without touching live ones', () => {
    const clock = { t: 0 };
    const w = new MinuteWindows(() => clock.t);
    const size = (): number => (w as unknown as { windows: Map<string, unknown> }).windows.size;
    w.add('old');
    clock.t = 30_000;
    w.add('young');
    clock.t = 59_999;
    w.add('x');
    expect(size()).toBe(3); // no sweep before a minute has passed since the last
    clock.t = 60_000;
    w.add('y');
    // 'old' started at 0 and is over; 'young' (30 s) and 'x' are still running.
    expect(size()).toBe(3);
    expect(w.peek('young').count).toBe(1);
    expect(w.peek('x').count).toBe(1);
    clock.t = 119_999;
    w.add('z'); // less than a minute since the last sweep: nothing is swept
    expect(size()).toBe(4);
    clock.t = 120_000;
    w.add('z');
    // swept: young (30 s), x (59.999 s) and y (60 s) are over; z is live
    expect(size()).toBe(1);
  });

  it('uses the real clock by default', () => {
    const w = new MinuteWindows();
    expect(w.add('k').retryAfterSeconds).toBeGreaterThanOrEqual(59);
  });
});

describe('Lockout', () => {
  it(`locks a source out after ${LOCKOUT_FAILURES} failures in a minute, until the minute is over`, () => {
    const clock = { t: 0 };
    const lockout = new Lockout(() => clock.t);
    expect(LOCKOUT_FAILURES).toBe(20);
    for (let i = 0; i < LOCKOUT_FAILURES - 1; i++) lockout.fail('10.0.0.1');
    expect(() => lockout.check('10.0.0.1')).not.toThrow();
    lockout.fail('10.0.0.1');
    clock.t = 15_000;
    let err: unknown;
    try {
      lockout.check('10.0.0.1');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ kind: 'too-many', code: 'rate-limited', details: { retryAfterSeconds: 45, reason: 'locked-out' } });
    expect((err as Error).message).toBe('too many failed credentials from this address; retry in 45 s');
    // Other sources are not affected; an unknown source counts as one.
    expect(() => lockout.check('10.0.0.2')).not.toThrow();
    for (let i = 0; i < LOCKOUT_FAILURES; i++) lockout.fail(undefined);
    expect(() => lockout.check(undefined)).toThrow(/too many failed/);
    clock.t = 60_000;
    expect(() => lockout.check('10.0.0.1')).not.toThrow();
  });

  it('uses the real clock by default', () => {
    const lockout = new Lockout();
    for (let i = 0; i < LOCKOUT_FAILURES; i++) lockout.fail('s');
    expect(() => lockout.check('s')).toThrow(DomainError);
  });

  it('reads Retry-After from errors that carry one', () => {
    expect(retryAfterOf(lockedOut(7))).toBe(7);
    expect(retryAfterOf(new DomainError('too-many', 'rate-limited', 'x', { retryAfterSeconds: '7' }))).toBeUndefined();
    expect(retryAfterOf(new DomainError('too-many', 'rate-limited', 'x'))).toBeUndefined();
  });
});

describe('secrets', () => {
  it('are 32 random bytes in base64url after a prefix, stored as SHA-256', () => {
    const a = newSecret('orc_');
    expect(a).toMatch(/^orc_[A-Za-z0-9_-]{43}$/);
    expect(newSecret('orc_')).not.toBe(a);
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('the matcher accepts the secret only, whatever the length of the guess', () => {
    const matches = secretMatcher('s3cret-value-1234');
    expect(matches('s3cret-value-1234')).toBe(true);
    expect(matches('s3cret-value-1235')).toBe(false);
    expect(matches('s3cret-value-123')).toBe(false);
    expect(matches('s3cret-value-12345')).toBe(false);
    expect(matches('')).toBe(false);
    expect(matches(undefined)).toBe(false);
  });
});

describe('owner token', () => {
  it('is API_TOKEN when configured, and no file is written', () => {
    const d = dir();
    expect(resolveToken('configured-token-123456', d)).toBe('configured-token-123456');
    expect(() => statSync(ownerTokenFile(d))).toThrow();
  });

  it('is generated once into DATA_DIR/api-token (0600) and kept across restarts', () => {
    const d = path.join(dir(), 'nested', 'data');
    const first = resolveToken(undefined, d);
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(ownerTokenFile(d)).toBe(path.join(d, 'api-token'));
    expect(readFileSync(ownerTokenFile(d), 'utf8')).toBe(`${first}\n`);
    expect(statSync(ownerTokenFile(d)).mode & 0o777).toBe(0o600);
    expect(resolveToken(undefined, d)).toBe(first);
  });

  it('tightens a readable token file, and replaces one too short to be a token', () => {
    const d = dir();
    mkdirSync(d, { recursive: true });
    writeFileSync(ownerTokenFile(d), '  sixteen-chars-ok  \n', { mode: 0o644 });
    expect(resolveToken(undefined, d)).toBe('sixteen-chars-ok');
    expect(statSync(ownerTokenFile(d)).mode & 0o777).toBe(0o600);
    writeFileSync(ownerTokenFile(d), 'fifteen-chars-x\n', { mode: 0o644 });
    const replaced = resolveToken(undefined, d);
    expect(replaced).not.toBe('fifteen-chars-x');
    expect(replaced).toHaveLength(43);
    expect(statSync(ownerTokenFile(d)).mode & 0o777).toBe(0o600);
  });
});

describe('principal', () => {
  it('travels on the request object and is absent until set', () => {
    const req = {};
    expect(principalOf(req)).toBeUndefined();
    setPrincipal(req, OWNER);
    expect(principalOf(req)).toBe(OWNER);
    expect(Object.keys(req)).toEqual([]);
    expect(Object.isFrozen(OWNER)).toBe(true);
  });
});
