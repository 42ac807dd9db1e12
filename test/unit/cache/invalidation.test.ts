import { describe, expect, it } from 'vitest';
import { ALL_SCOPE, keyScope, prefixScope, scopeForPrefix, scopesOf } from '../../../backend/cache/generations.js';
import { MAX_ITEMS, MAX_MESSAGE_BYTES, PendingInvalidations, decode, encode, normalize } from '../../../backend/cache/invalidation.js';

describe('generation scopes', () => {
  it('a key depends on the whole cache, every prefix ending at a colon, and itself', () => {
    expect(scopesOf('orc:v1:conversation:42')).toEqual([
      ALL_SCOPE,
      prefixScope('orc:'),
      prefixScope('orc:v1:'),
      prefixScope('orc:v1:conversation:'),
      keyScope('orc:v1:conversation:42'),
    ]);
    // A key that ends with a colon is also its own prefix.
    expect(scopesOf('orc:v1:list:')).toContain(prefixScope('orc:v1:list:'));
    expect(scopesOf('plain')).toEqual([ALL_SCOPE, keyScope('plain')]);
  });

  it('widens a prefix that does not end at a colon (invalidating more is safe)', () => {
    expect(scopeForPrefix('orc:v1:conversations:list:')).toBe(prefixScope('orc:v1:conversations:list:'));
    expect(scopeForPrefix('orc:v1:conversations:li')).toBe(prefixScope('orc:v1:conversations:'));
    expect(scopeForPrefix('nocolon')).toBe(ALL_SCOPE);
    // Every key under the original prefix depends on the widened scope.
    expect(scopesOf('orc:v1:conversations:list:20:')).toContain(scopeForPrefix('orc:v1:conversations:li'));
  });
});

describe('invalidation messages', () => {
  it('round-trips keys and prefixes', () => {
    const what = normalize(['a', 'a', 'b'], ['p:']);
    const { text, what: sent } = encode({ origin: 'i1', seq: 7, what });
    expect(sent).toEqual({ all: false, keys: ['a', 'b'], prefixes: ['p:'] });
    expect(decode(text)).toEqual({ origin: 'i1', seq: 7, what: sent });
  });

  it('bounds the payload: too many items or too many bytes become "drop everything"', () => {
    const many = Array.from({ length: MAX_ITEMS + 1 }, (_, i) => `k${i}`);
    expect(normalize(many, [])).toEqual({ all: true });
    const long = Array.from({ length: 100 }, (_, i) => `orc:v1:${'x'.repeat(200)}:${i}`);
    const { text, what } = encode({ origin: 'i1', seq: 1, what: normalize(long, []) });
    expect(what).toEqual({ all: true });
    expect(Buffer.byteLength(text)).toBeLessThan(100);
    expect(Buffer.byteLength(encode({ origin: 'i1', seq: 2, what: normalize(long.slice(0, 10), []) }).text)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  });

  it('ignores malformed or oversized messages', () => {
    expect(decode('not json')).toBeUndefined();
    expect(decode('{"o":1,"i":2}')).toBeUndefined();
    expect(decode('{"o":"x","i":2,"k":[1]}')).toBeUndefined();
    expect(decode(JSON.stringify({ o: 'x', i: 1, k: ['y'.repeat(MAX_MESSAGE_BYTES * 2)] }))).toBeUndefined();
  });

  it('keeps pending invalidations bounded', () => {
    const pending = new PendingInvalidations();
    expect(pending.empty).toBe(true);
    pending.add(normalize(['a'], ['p:']));
    pending.add(normalize(['a', 'b'], []));
    expect(pending.take()).toEqual({ all: false, keys: ['a', 'b'], prefixes: ['p:'] });
    expect(pending.empty).toBe(true);
    for (let i = 0; i < MAX_ITEMS + 5; i++) pending.add(normalize([`k${i}`], []));
    expect(pending.take()).toEqual({ all: true });
  });
});
