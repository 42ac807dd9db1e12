/**
 * The HTTP server creates requests and responses that already have Express's prototypes, so the
 * prototype swap Express does on every request changes nothing (the throughput reason is in
 * docs/performance.md). These checks hold that in place with a real server and real requests.
 */
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer, createHttpServer } from '../../../backend/http/listen.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await closeServer(s, 1000);
});

async function serve(server: http.Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('createHttpServer', () => {
  it('creates req/res with the app prototypes before Express sees them, and Express helpers work', async () => {
    const app = express();
    app.get('/hello', (req, res) => {
      res.status(201).json({ path: req.path, query: req.query });
    });
    const seen: boolean[] = [];
    const url = await serve(
      createHttpServer(app, (req, res) => {
        seen.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response);
        return false;
      }),
    );
    const res = await fetch(`${url}/hello?x=1`);
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ path: '/hello', query: { x: '1' } });
    expect(seen).toEqual([true]);
    // Requests are still node's: instanceof and the stream API hold.
    app.post('/echo', (req, res) => {
      expect(req).toBeInstanceOf(http.IncomingMessage);
      expect(res).toBeInstanceOf(http.ServerResponse);
      req.pipe(res);
    });
    const echo = await fetch(`${url}/echo`, { method: 'POST', body: 'round trip' });
    expect(await echo.text()).toBe('round trip');
  });

  it('a second server for the same app shares the same prototypes', async () => {
    const app = express();
    app.get('/', (_req, res) => {
      res.send('ok');
    });
    const protos: object[] = [];
    const probe = (req: http.IncomingMessage): boolean => {
      protos.push(Object.getPrototypeOf(req) as object);
      return false;
    };
    const [a, b] = [await serve(createHttpServer(app, probe)), await serve(createHttpServer(app, probe))];
    expect(await (await fetch(a)).text()).toBe('ok');
    expect(await (await fetch(b)).text()).toBe('ok');
    expect(protos).toEqual([app.request, app.request]);
  });
});
