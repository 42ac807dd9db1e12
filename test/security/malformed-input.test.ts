import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATIENCE_MS } from '../fixtures/patience.js';
import { startTestServer, tempDir, type TestServer } from '../fixtures/test-server.js';

let t: TestServer;
beforeAll(async () => {
  const renderer = tempDir('orchestra-renderer-');
  writeFileSync(path.join(renderer, 'index.html'), '<!doctype html><title>Orchestra</title><script type="module" src="/assets/app.js"></script>');
  mkdirSync(path.join(renderer, 'assets'));
  writeFileSync(path.join(renderer, 'assets', 'app.js'), 'console.log("app");\n');
  t = await startTestServer({ start: { rendererDir: renderer } });
});
afterAll(async () => {
  await t.close();
});

interface ErrorBody {
  error: { code: string; message: string; details?: { field?: string } };
}

describe('malformed paths are a 400, never a 5xx', () => {
  for (const p of ['/api/conversations/%E0%A4%A', '/%', '/assets/%zz', '/api/%', '/healthz%zz', '/%C0%AF', '/api/conversations/%00', '/x%']) {
    it(`GET ${p} -> 400 bad-request`, async () => {
      const res = await t.api(p);
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code).toBe('bad-request');
    });
  }
});

describe('static files', () => {
  it('a missing asset is a 404 in JSON, not the app HTML', async () => {
    const res = await t.api('/assets/missing-1234.js', { auth: false });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(((await res.json()) as ErrorBody).error.code).toBe('not-found');
  });

  it('an existing asset is served', async () => {
    const res = await t.api('/assets/app.js', { auth: false });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('console.log');
  });

  for (const p of ['/', '/index.html', '/conversations/abc']) {
    it(`${p} is HTML with the Content-Security-Policy`, async () => {
      const res = await t.api(p, { auth: false });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    });
  }
});

describe('a NUL character is refused in every text field', () => {
  const cases: Array<[string, string, string, unknown, string]> = [
    ['chat message', 'POST', '/api/chat', { message: 'hi\u0000there' }, 'message'],
    ['chat model', 'POST', '/api/chat', { message: 'hi', model: 'gpt\u0000' }, 'model'],
    ['conversation title', 'PATCH', '/api/conversations/0190a0a0-0000-7000-8000-000000000000', { title: 'a\u0000b' }, 'title'],
    ['validated file content', 'POST', '/api/validate', { files: [{ path: 'a.js', content: 'x\u0000' }] }, 'files.0.content'],
    ['a key', 'POST', '/api/validate', { code: 'x', language: 'js', ['pa\u0000th']: 'a.js' }, 'pa\u0000th'],
  ];
  for (const [what, method, p, body, field] of cases) {
    it(what, async () => {
      const res = await t.api(p, { method, json: body });
      expect(res.status).toBe(400);
      const err = (await res.json()) as ErrorBody;
      expect(err.error.code).toBe('invalid-request');
      expect(err.error.details?.field).toBe(field);
    });
  }

  it('over Socket.IO too (chat:send)', async () => {
    const socket = connect(t.url, { path: '/ws', transports: ['websocket'], auth: { token: t.token }, forceNew: true, reconnection: false });
    try {
      const ack = (await socket.timeout(PATIENCE_MS).emitWithAck('chat:send', { message: 'hi\u0000' })) as ErrorBody;
      expect(ack.error.code).toBe('invalid-request');
      expect(ack.error.details?.field).toBe('message');
    } finally {
      socket.disconnect();
    }
  });
});

/** A small seeded generator, so a failing fuzz case can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sends one raw request and returns the status code of the answer (0: closed without one). */
function rawRequest(port: number, request: string): Promise<number> {
  return new Promise((resolve) => {
    // write, not end: a half-closed socket makes node drop answers that are produced asynchronously.
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request, 'latin1'));
    let head = '';
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(0));
  });
}

describe('fuzz: generated paths, percent-encodings and headers', () => {
  it('1,600 requests: the server never answers 5xx and never goes away', async () => {
    const rand = prng(20261130);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const prefixes = ['/', '/api/', '/api/conversations/', '/api/chat/', '/assets/', '/healthz', '/api/status', '/pair', '/metrics', '/ws/', '/index.html', '/api/validate'];
    const pieces = ['%', '%%', '%z', '%zz', '%0', '%00', '%E0%A4%A', '%C0%AF', '%FF', '%2e%2e/', '..', '//', '%2F', '?', '#', 'a', 'ü', '%F0%9F%98%80', '%u0041', ';', '%20', '+', '\\', '~'];
    const methods = ['GET', 'GET', 'GET', 'POST', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PUT'];
    const cookies = ['orchestra_token=%', 'orchestra_token=%zz', `orchestra_token=${t.token}`, 'orchestra_token=', '=%', 'a=b; orchestra_token=%E0%A4%A', ';;;', 'orchestra_token="%"'];
    const extraHeaders = [
      () => `Cookie: ${pick(cookies)}`,
      () => `Authorization: Bearer ${pick([t.token, '%', '', 'x'.repeat(300)])}`,
      () => `Authorization: ${pick(['Basic %%', 'Bearer', 'bearer  '])}`,
      () => `Origin: ${pick(['http://evil.example', 'null', '%', 'http://127.0.0.1:1'])}`,
      () => `X-Forwarded-For: ${pick(['1.2.3.4', '%', '::1, 10.0.0.1', ''])}`,
      () => `Accept: ${pick(['text/event-stream', '*/*', '%'])}`,
      () => `Content-Type: ${pick(['application/json', 'text/plain', 'application/json; charset=utf-99', '%'])}`,
      () => `X-Request-Id: ${pick(['%', 'a'.repeat(100), 'ok-1'])}`,
      () => `Host: ${pick(['127.0.0.1', 'evil.example', '%', '[::1]', ''])}`,
    ];
    const bodies = ['', '{', '{"message":"%"}', '{"message":"a\\u0000"}', '[]', 'null', '{"files":[{"path":"%","content":"%"}]}', '%%%'];
    const port = Number(new URL(t.url).port);
    const statuses = new Map<number, number>();
    const fiveHundreds: string[] = [];
    const total = 1600;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        next++;
        let p = pick(prefixes);
        for (let i = Math.floor(rand() * 4); i > 0; i--) p += pick(pieces);
        const method = pick(methods);
        const headers = [`Host: 127.0.0.1:${port}`];
        for (let i = Math.floor(rand() * 4); i > 0; i--) headers.push(pick(extraHeaders)());
        const body = method === 'GET' || method === 'HEAD' ? '' : pick(bodies);
        if (body !== '') headers.push(`Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
        const request = `${method} ${p} HTTP/1.1\r\n${headers.join('\r\n')}\r\nConnection: close\r\n\r\n${body}`;
        const status = await rawRequest(port, request);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status >= 500) fiveHundreds.push(request);
      }
    };
    await Promise.all(Array.from({ length: 8 }, () => worker()));
    expect(fiveHundreds.slice(0, 5)).toEqual([]);
    // Nearly every request got an answer (Node's own parser answers 400 to what it cannot read).
    expect(statuses.get(0) ?? 0).toBeLessThan(total * 0.01);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });
});
