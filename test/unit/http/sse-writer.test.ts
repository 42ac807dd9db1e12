/**
 * SseWriter on a real HTTP response: frames sent in one tick leave in one write, in order,
 * later ticks get their own write, and end() sends what is still queued.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SseWriter } from '../../../backend/http/sse.js';

let server: http.Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('SseWriter', () => {
  it('joins the frames of one tick into one write and flushes on end', async () => {
    const writes: string[] = [];
    server = http.createServer((_req, res) => {
      const write = res.write.bind(res) as (chunk: string) => boolean;
      (res as { write: (chunk: string) => boolean }).write = (chunk: string) => {
        writes.push(chunk);
        return write(chunk);
      };
      const sse = new SseWriter(res);
      sse.send('token', { text: 'a' });
      sse.send('token', { text: 'b' });
      sse.ping();
      setTimeout(() => {
        sse.send('token', { text: 'c' });
        sse.send('done', { ok: true });
        sse.end();
        sse.send('token', { text: 'after end' });
      }, 10);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const body = await res.text();
    expect(body).toBe(
      'event: token\ndata: {"text":"a"}\n\nevent: token\ndata: {"text":"b"}\n\n: ping\n\n' +
        'event: token\ndata: {"text":"c"}\n\nevent: done\ndata: {"ok":true}\n\n',
    );
    expect(writes).toHaveLength(2);
  });
});
