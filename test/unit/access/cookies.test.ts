import { describe, expect, it } from 'vitest';
import { cookieValue, safeDecode } from '../../../backend/access/cookies.js';

describe('cookieValue', () => {
  it.each([
    ['orchestra_token=abc', 'abc'],
    ['a=1; orchestra_token=abc; b=2', 'abc'],
    ['orchestra_token=%41%42', 'AB'],
    ['orchestra_token="quoted"', 'quoted'],
    ['orchestra_token=first; orchestra_token=second', 'first'],
    ['xorchestra_token=no', undefined],
    ['orchestra_token', undefined],
    ['', undefined],
    // Bad percent-encodings are kept as sent: they never throw and match no credential.
    ['orchestra_token=%', '%'],
    ['orchestra_token=%E0%A4%A', '%E0%A4%A'],
    ['orchestra_token=%zz', '%zz'],
    ['=;=;;orchestra_token==%%', '=%%'],
  ])('%j -> %j', (header, expected) => {
    expect(cookieValue(header, 'orchestra_token')).toBe(expected);
  });

  it('reads an array of headers and undefined', () => {
    expect(cookieValue(['a=1', 'orchestra_token=x'], 'orchestra_token')).toBe('x');
    expect(cookieValue(undefined, 'orchestra_token')).toBeUndefined();
  });

  it('never throws on random input', () => {
    const alphabet = '%;= "\\,abcXYZ019\u00e9\u0000';
    let seed = 7;
    for (let i = 0; i < 5000; i++) {
      let s = '';
      const len = i % 40;
      for (let j = 0; j < len; j++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        s += alphabet[seed % alphabet.length];
      }
      expect(() => cookieValue(`orchestra_token=${s}`, 'orchestra_token')).not.toThrow();
      expect(() => safeDecode(s)).not.toThrow();
    }
  });
});

describe('cookieValue, quotes', () => {
  it.each([
    ['orchestra_token=""', ''],
    ['orchestra_token="', '"'],
    ['orchestra_token="abc', '"abc'],
    ['orchestra_token=abc"', 'abc"'],
    ['orchestra_token= "a b" ', 'a b'],
  ])('only a value quoted on both sides loses its quotes: %j -> %j', (header, expected) => {
    expect(cookieValue(header, 'orchestra_token')).toBe(expected);
  });
});
