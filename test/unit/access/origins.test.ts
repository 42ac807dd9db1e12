import { describe, expect, it } from 'vitest';
import { originChecker } from '../../../backend/access/origins.js';

const allowed = originChecker({ listed: ['https://app.example', 'http://localhost:5173/'], ports: [8000, 8001] });

describe('originChecker', () => {
  it.each([
    // origin, Host header, TLS, expected
    ['http://127.0.0.1:8000', '127.0.0.1:8000', false, true],
    ['http://127.0.0.1:8000', '127.0.0.1:8001', false, true], // page on the API port, socket on WEBSOCKET_PORT
    ['http://localhost:8000', 'localhost:8000', false, true],
    ['https://orchestra.lan:8000', 'orchestra.lan:8000', true, true],
    ['https://orchestra.lan', 'orchestra.lan', true, true],
    ['http://[::1]:8000', '[::1]:8000', false, true],
    ['https://app.example', '127.0.0.1:8000', false, true],
    ['http://localhost:5173', '127.0.0.1:8000', false, true],
    ['http://127.0.0.1:9999', '127.0.0.1:8000', false, false], // another port of the same host
    ['https://127.0.0.1:8000', '127.0.0.1:8000', false, false], // another scheme
    ['http://127.0.0.1:8000', '127.0.0.1:8000', true, false],
    ['http://evil.example:8000', '127.0.0.1:8000', false, false],
    ['http://localhost:8000', '127.0.0.1:8000', false, false], // another name for the same host
    ['https://app.example.evil.test', '127.0.0.1:8000', false, false],
    ['null', '127.0.0.1:8000', false, false],
    ['file://', '127.0.0.1:8000', false, false],
    ['%%%', '127.0.0.1:8000', false, false],
    ['http://127.0.0.1:8000', undefined, false, false],
  ] as const)('%s with Host %s (tls %s) -> %s', (origin, host, tls, expected) => {
    expect(allowed(origin, host, tls)).toBe(expected);
  });
});

describe('originChecker with a live list', () => {
  it('reads the list on every check, so a replaced list applies to the next handshake', () => {
    let listed: readonly string[] = [];
    const check = originChecker({ listed: () => listed, ports: [8000] });
    expect(check('https://frontend.example', '127.0.0.1:8000', false)).toBe(false);
    listed = ['https://frontend.example'];
    expect(check('https://frontend.example', '127.0.0.1:8000', false)).toBe(true);
    listed = [];
    expect(check('https://frontend.example', '127.0.0.1:8000', false)).toBe(false);
    // The server's own origin is allowed whatever the list says.
    expect(check('http://127.0.0.1:8000', '127.0.0.1:8000', false)).toBe(true);
  });
});

describe('originChecker, default ports and schemes', () => {
  const check = originChecker({ listed: ['ftp://files.example'], ports: [8000] });
  it.each([
    ['https://h.lan', 'h.lan:443', true, true],
    ['http://h.lan', 'h.lan:80', false, true],
    ['http://h.lan', 'h.lan:8080', false, false],
    ['http://h.lan:8000', 'h.lan:8080', false, true],
    ['ftp://files.example', 'h.lan:8000', false, false], // listed, but not a web origin
  ])('%s with Host %s (TLS %s) -> %s', (origin, host, encrypted, expected) => {
    expect(check(origin, host, encrypted)).toBe(expected);
  });
});
