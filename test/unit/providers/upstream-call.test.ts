import { EventEmitter } from 'node:events';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { PAUSE_AHEAD_BYTES, UpstreamCall } from '../../../backend/providers/upstream-call.js';

/** What undici hands a handler to steer its request, recording what the handler asked of it. */
function controller(): Dispatcher.DispatchController & { aborts: Error[]; pauses: number; resumes: number } {
  const c = {
    aborted: false,
    paused: false,
    reason: null as Error | null,
    aborts: [] as Error[],
    pauses: 0,
    resumes: 0,
    abort(reason: Error) {
      c.aborted = true;
      c.reason = reason;
      c.aborts.push(reason);
    },
    pause() {
      c.paused = true;
      c.pauses++;
    },
    resume() {
      c.paused = false;
      c.resumes++;
    },
  };
  return c;
}

class Abort extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;
  abort(reason: unknown): void {
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/** A call whose request started and whose head arrived with `status`. */
function answered(status: number): { call: UpstreamCall; c: ReturnType<typeof controller> } {
  const call = new UpstreamCall(new Abort());
  const c = controller();
  call.onRequestStart(c);
  call.onResponseStart(c, status, {}, 'status text');
  return { call, c };
}

describe('UpstreamCall', () => {
  it('an abort before the request has a connection fails the head at once, and cuts the request when it starts', async () => {
    const abort = new Abort();
    const call = new UpstreamCall(abort);
    const reason = new Error('client left');
    abort.abort(reason);
    await expect(call.head).rejects.toBe(reason);
    const c = controller();
    call.onRequestStart(c);
    expect(c.aborts).toEqual([reason]);
  });

  it('hands chunks that came before the consumer to it first, in order, and wakes a waiting consumer', async () => {
    const call = new UpstreamCall(new Abort());
    const c = controller();
    call.onRequestStart(c);
    call.onResponseStart(c, 200, { 'content-type': 'text/event-stream' }, 'OK');
    expect((await call.head).statusCode).toBe(200);
    call.onResponseData(c, Buffer.from('one '));
    const seen: string[] = [];
    call.consume((chunk) => seen.push(chunk.toString()));
    const waiting = call.next();
    call.onResponseData(c, Buffer.from('two'));
    await waiting;
    call.onResponseEnd();
    await call.next();
    expect(seen).toEqual(['one ', 'two']);
    expect(call.ended).toBe(true);
  });

  it('pauses the socket when the consumer falls behind, and lets it go on once the consumer caught up', () => {
    const { call, c } = answered(200);
    call.consume(() => undefined);
    call.onResponseData(c, Buffer.alloc(PAUSE_AHEAD_BYTES));
    expect(c.pauses).toBe(0);
    call.onResponseData(c, Buffer.alloc(1));
    expect(c.paused).toBe(true);
    call.caughtUp();
    expect(c.paused).toBe(false);
    expect(c.resumes).toBe(1);
  });

  it('reads a body as text up to its limit and cuts the rest', async () => {
    const { call, c } = answered(500);
    const text = call.text(5);
    call.onResponseData(c, Buffer.from('abc'));
    call.onResponseData(c, Buffer.from('defgh'));
    expect(await text).toBe('abcde');
    expect(c.aborts).toHaveLength(1);
  });

  it('a failure mid-body is kept for the consumer and wakes it', async () => {
    const { call, c } = answered(200);
    const waiting = call.next();
    const err = new Error('other side closed');
    call.onResponseError(c, err);
    await waiting;
    expect(call.failure).toBe(err);
    await expect(call.text(10)).rejects.toBe(err);
  });
});
