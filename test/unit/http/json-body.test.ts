import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainJsonLength, readPlainJson } from '../../../backend/http/json-body.js';

const LIMIT = 1024;

interface Outcome {
  lean: boolean;
  body?: unknown;
  error?: { status: unknown; type: unknown; message: unknown };
}

const outcomeOf = (err: unknown, body: unknown, lean: boolean): Outcome => {
  if (err === undefined || err === null) return { lean, body };
  const e = err as { status?: unknown; type?: unknown; message?: unknown };
  return { lean, error: { status: e.status, type: e.type, message: e.message } };
};

/**
 * The same raw request read by express.json (as the app configures it) at /express and by the
 * plain JSON reader at /lean: what each made of it comes back as JSON.
 */
let server: Server;
let port: number;
const aborted: Array<{ path: string; outcome: Outcome }> = [];
const expressJson = express.json({ limit: LIMIT, strict: true });

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const report = (o: Outcome): void => {
      if (req.headers['x-abort'] !== undefined) aborted.push({ path: req.url ?? '', outcome: o });
      if (!res.destroyed) res.setHeader('content-type', 'application/json').end(JSON.stringify(o));
    };
    if (req.url === '/lean') {
      const length = plainJsonLength(req, LIMIT);
      if (length === undefined) {
        report({ lean: false });
        return;
      }
      readPlainJson(req, length, (err, body) => report(outcomeOf(err, body, true)));
      return;
    }
    expressJson(req, res, (err?: unknown) => report(outcomeOf(err, (req as Request).body, false)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function send(path: string, body: Buffer, headers: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve(JSON.parse(text) as Outcome));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const bodies: Array<[string, Buffer]> = [
  ['an object', Buffer.from('{"message":"hi","n":[1,2,{"x":null}]}')],
  ['an array', Buffer.from('[1,"two"]')],
  ['leading JSON whitespace', Buffer.from(' \t\r\n{"a":1}')],
  ['multi-byte text', Buffer.from('{"a":"ça va? 🎉 — 日本"}')],
  ['a byte order mark', Buffer.concat([BOM, Buffer.from('{"a":1}')])],
  ['only a byte order mark', BOM],
  ['invalid UTF-8 inside a string', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xc3]), Buffer.from('"}')])],
  ['malformed JSON', Buffer.from('{"message": ')],
  ['a string at the top', Buffer.from('"hi"')],
  ['null at the top', Buffer.from('null')],
  ['whitespace only', Buffer.from('   ')],
  ['a non-breaking space before the object', Buffer.from('\u00a0{"a":1}')],
  ['exactly the limit', Buffer.from(`{"a":"${'x'.repeat(LIMIT - 8)}"}`)],
];

describe('plain JSON body reader', () => {
  it.each(bodies)('reads %s as express.json does', async (_name, body) => {
    const viaExpress = await send('/express', body);
    const viaLean = await send('/lean', body);
    expect(viaLean.lean).toBe(true);
    expect(viaLean.body).toEqual(viaExpress.body);
    expect(viaLean.error?.status).toBe(viaExpress.error?.status);
    expect(viaLean.error?.type).toBe(viaExpress.error?.type);
  });

  it.each([
    ['a charset other than UTF-8', { 'content-type': 'application/json; charset=utf-16' }],
    ['another content type', { 'content-type': 'text/plain' }],
    ['a JSON suffix type', { 'content-type': 'application/vnd.api+json' }],
    ['a content encoding', { 'content-encoding': 'identity' }],
  ])('leaves %s to express.json', async (_name, headers) => {
    expect((await send('/lean', Buffer.from('{"a":1}'), headers)).lean).toBe(false);
  });

  it('takes a content type in other letter case and the explicit UTF-8 charset', async () => {
    expect(await send('/lean', Buffer.from('{"a":1}'), { 'content-type': 'Application/JSON' })).toEqual({ lean: true, body: { a: 1 } });
    expect(await send('/lean', Buffer.from('{"a":1}'), { 'content-type': 'application/json; charset=utf-8' })).toEqual({ lean: true, body: { a: 1 } });
  });

  it('leaves an empty body and one over the limit to express.json', async () => {
    expect((await send('/lean', Buffer.alloc(0))).lean).toBe(false);
    expect((await send('/lean', Buffer.from(`{"a":"${'x'.repeat(LIMIT)}"}`))).lean).toBe(false);
  });

  it('a client that goes away mid-body gets the error express.json reports', async () => {
    for (const path of ['/express', '/lean']) {
      await new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '100', 'x-abort': '1' } });
        req.on('error', () => resolve());
        req.write('{"message":"', () => setTimeout(() => req.destroy(), 20));
      });
    }
    await expect.poll(() => aborted.length).toBe(2);
    const [viaExpress, viaLean] = [aborted.find((a) => a.path === '/express'), aborted.find((a) => a.path === '/lean')];
    expect(viaLean?.outcome.lean).toBe(true);
    expect(viaLean?.outcome.error).toEqual(viaExpress?.outcome.error);
    expect(viaLean?.outcome.error?.type).toBe('request.aborted');
  });
});
