import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import pino, { type Logger } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { assignRequestId, deferredRequestLog, requestLog } from '../../../backend/http/request-context.js';

/** A logger that keeps the lines it writes, parsed, and counts the children made from it. */
function recordingLogger(level: string): { base: Logger; lines: Array<Record<string, unknown>>; children: () => number } {
  const lines: Array<Record<string, unknown>> = [];
  const base = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const child = vi.spyOn(base, 'child');
  return { base, lines, children: () => child.mock.calls.length };
}

function registeredRequest(base: Logger, id?: string): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  if (id !== undefined) req.headers['x-request-id'] = id;
  assignRequestId(req, base);
  return req;
}

describe('deferredRequestLog', () => {
  it('makes no child logger until a line is written', () => {
    const { base, lines, children } = recordingLogger('info');
    const log = deferredRequestLog(registeredRequest(base, 'turn-1'));
    expect(log.isLevelEnabled('debug')).toBe(false);
    expect(log.isLevelEnabled('warn')).toBe(true);
    log.debug({ messageId: 'm' }, 'below the level');
    expect(children()).toBe(0);
    expect(lines).toEqual([]);
  });

  it('asks the level without making a child', () => {
    const { base, children } = recordingLogger('debug');
    const log = deferredRequestLog(registeredRequest(base));
    expect(log.isLevelEnabled('debug')).toBe(true);
    expect(log.isLevelEnabled('trace')).toBe(false);
    expect(children()).toBe(0);
  });

  it('writes lines that carry the request id, through the one child requestLog makes', () => {
    const { base, lines, children } = recordingLogger('info');
    const req = registeredRequest(base, 'turn-2');
    const log = deferredRequestLog(req);
    log.warn({ messageId: 'a' }, 'model stream failed');
    log.error({ messageId: 'b' }, 'could not store the reply');
    requestLog(req).info('later, through requestLog');
    expect(children()).toBe(1);
    expect(lines.map((l) => [l.reqId, l.msg, l.messageId])).toEqual([
      ['turn-2', 'model stream failed', 'a'],
      ['turn-2', 'could not store the reply', 'b'],
      ['turn-2', 'later, through requestLog', undefined],
    ]);
  });

  // Every chat turn makes one. Getters made per call would give each object a hidden class of its
  // own, kept in V8's old generation and pointing at the request: the young-generation collector
  // then kept every turn's request and reply alive until they were promoted (request-context.ts).
  it('gives every request a log of the same shape, its methods shared on one prototype', () => {
    const { base } = recordingLogger('info');
    const first = deferredRequestLog(registeredRequest(base));
    const second = deferredRequestLog(registeredRequest(base));
    expect(Object.getPrototypeOf(first)).toBe(Object.getPrototypeOf(second));
    expect(Object.getPrototypeOf(first)).not.toBe(Object.prototype);
    for (const name of ['debug', 'info', 'warn', 'error', 'isLevelEnabled']) {
      expect(Object.getOwnPropertyDescriptor(first, name), name).toBeUndefined();
    }
    expect(Object.keys(first)).toEqual(Object.keys(second));
  });

  it('refuses a request the server did not register', () => {
    expect(() => deferredRequestLog(new IncomingMessage(new Socket()))).toThrow(/did not register/);
  });
});
