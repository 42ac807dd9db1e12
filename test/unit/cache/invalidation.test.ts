import { describe, expect, it } from 'vitest';
import { ALL_SCOPE, generationVector, keyScope, prefixScope, scopeForPrefix, scopesOf } from '../../../backend/cache/generations.js';
import { INVALIDATION_CHANNEL, MAX_ITEMS, MAX_MESSAGE_BYTES, PendingInvalidations, ackChannel, decode, encode, normalize } from '../../../backend/cache/invalidation.js';

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

describe('generation keys and vectors, exactly', () => {
  it('names the generation keys under orc:gen:', () => {
    expect(ALL_SCOPE).toBe('orc:gen:all');
    expect(keyScope('orc:v1:x')).toBe('orc:gen:k:orc:v1:x');
    expect(prefixScope('orc:v1:')).toBe('orc:gen:p:orc:v1:');
    expect(scopeForPrefix(':x')).toBe(prefixScope(':'));
    expect(scopeForPrefix('a:b:')).toBe(prefixScope('a:b:'));
  });

  it('joins generations as read, a missing counter as 0', () => {
    expect(generationVector([null, '3', '0', '12'])).toBe('0,3,0,12');
    expect(generationVector([])).toBe('');
  });

  it('acknowledgements go to a channel per instance', () => {
    expect(ackChannel('i-7')).toBe(`${INVALIDATION_CHANNEL}:ack:i-7`);
    expect(INVALIDATION_CHANNEL).toMatch(/^orc:v\d+:invalidate$/);
  });
});

describe('invalidation messages, at their bounds', () => {
  it('an empty prefix means everything; the item bound counts keys and prefixes together', () => {
    expect(normalize(['a'], [''])).toEqual({ all: true });
    const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `k${i}`);
    const prefixes = (n: number): string[] => Array.from({ length: n }, (_, i) => `p${i}:`);
    expect(normalize(keys(MAX_ITEMS), []).all).toBe(false);
    expect(normalize(keys(MAX_ITEMS - 20), prefixes(20)).all).toBe(false);
    expect(normalize(keys(MAX_ITEMS - 20), prefixes(21))).toEqual({ all: true });
    expect(normalize([], prefixes(MAX_ITEMS + 1))).toEqual({ all: true });
  });

  it('a message of exactly the byte bound is sent as it is; one byte more becomes "drop everything"', () => {
    const base = JSON.stringify({ o: 'i1', i: 1, k: [''], p: [] }).length;
    const fits = 'x'.repeat(MAX_MESSAGE_BYTES - base);
    const exact = encode({ origin: 'i1', seq: 1, what: { all: false, keys: [fits], prefixes: [] } });
    expect(Buffer.byteLength(exact.text)).toBe(MAX_MESSAGE_BYTES);
    expect(exact.what).toEqual({ all: false, keys: [fits], prefixes: [] });
    const over = encode({ origin: 'i1', seq: 1, what: { all: false, keys: [`${fits}x`], prefixes: [] } });
    expect(over.what).toEqual({ all: true });
    expect(decode(over.text)).toEqual({ origin: 'i1', seq: 1, what: { all: true } });
  });

  it('"drop everything" round-trips as itself', () => {
    const { text, what } = encode({ origin: 'i2', seq: 9, what: { all: true } });
    expect(what).toEqual({ all: true });
    expect(JSON.parse(text)).toEqual({ o: 'i2', i: 9, all: true });
    expect(decode(text)).toEqual({ origin: 'i2', seq: 9, what: { all: true } });
  });

  it('decodes partial messages and refuses ones without origin, seq or string lists', () => {
    expect(decode('{"o":"x","i":1}')).toEqual({ origin: 'x', seq: 1, what: { all: false, keys: [], prefixes: [] } });
    expect(decode('{"o":"x","i":1,"p":["a:"]}')).toEqual({ origin: 'x', seq: 1, what: { all: false, keys: [], prefixes: ['a:'] } });
    expect(decode('{"o":"x","i":1,"k":["a"]}')).toEqual({ origin: 'x', seq: 1, what: { all: false, keys: ['a'], prefixes: [] } });
    expect(decode('{"o":"x","i":1,"all":false,"k":["a"]}')?.what).toEqual({ all: false, keys: ['a'], prefixes: [] });
    expect(decode('null')).toBeUndefined();
    expect(decode('"text"')).toBeUndefined();
    expect(decode('{"o":"x","i":"1"}')).toBeUndefined();
    expect(decode('{"i":1}')).toBeUndefined();
    expect(decode('{"o":"x","i":1,"k":["a",2]}')).toBeUndefined();
    expect(decode('{"o":"x","i":1,"p":[null]}')).toBeUndefined();
    expect(decode('{"o":"x","i":1,"p":"a:"}')).toBeUndefined();
  });

  it('reads messages up to twice the byte bound, and no longer ones', () => {
    const message = (length: number): string => {
      const base = JSON.stringify({ o: 'x', i: 1, k: [''] }).length;
      return JSON.stringify({ o: 'x', i: 1, k: ['y'.repeat(length - base)] });
    };
    expect(message(MAX_MESSAGE_BYTES * 2)).toHaveLength(MAX_MESSAGE_BYTES * 2);
    expect(decode(message(MAX_MESSAGE_BYTES * 2))?.what).toMatchObject({ all: false });
    expect(decode(message(MAX_MESSAGE_BYTES * 2 + 1))).toBeUndefined();
    expect(decode(message(MAX_MESSAGE_BYTES))?.what).toMatchObject({ all: false });
  });
});

describe('pending invalidations, at their bounds', () => {
  it('is empty only with nothing recorded: a prefix or "everything" counts', () => {
    const pending = new PendingInvalidations();
    pending.add({ all: false, keys: [], prefixes: ['p:'] });
    expect(pending.empty).toBe(false);
    expect(pending.take()).toEqual({ all: false, keys: [], prefixes: ['p:'] });
    expect(pending.empty).toBe(true);
    pending.add({ all: false, keys: ['k'], prefixes: [] });
    expect(pending.empty).toBe(false);
    pending.take();
    pending.add({ all: true });
    expect(pending.empty).toBe(false);
    expect(pending.take()).toEqual({ all: true });
    expect(pending.empty).toBe(true);
    expect(pending.take()).toEqual({ all: false, keys: [], prefixes: [] });
  });

  it('"everything" replaces what was recorded and absorbs what comes after', () => {
    const pending = new PendingInvalidations();
    pending.add({ all: false, keys: ['a'], prefixes: ['p:'] });
    pending.add({ all: true });
    pending.add({ all: false, keys: ['b'], prefixes: [] });
    expect(pending.take()).toEqual({ all: true });
    pending.add({ all: false, keys: ['c'], prefixes: [] });
    expect(pending.take()).toEqual({ all: false, keys: ['c'], prefixes: [] });
  });

  it('turns into "everything" past the item bound, counting keys and prefixes together', () => {
    const pending = new PendingInvalidations();
    pending.add({ all: false, keys: Array.from({ length: MAX_ITEMS - 1 }, (_, i) => `k${i}`), prefixes: ['p:'] });
    expect(pending.take()).toMatchObject({ all: false });
    pending.add({ all: false, keys: Array.from({ length: MAX_ITEMS - 1 }, (_, i) => `k${i}`), prefixes: ['p:', 'q:'] });
    expect(pending.take()).toEqual({ all: true });
  });
});
