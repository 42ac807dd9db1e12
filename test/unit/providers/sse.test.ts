import { describe, expect, it } from 'vitest';
import { SseLineTooLongError, SseParser } from '../../../backend/providers/sse.js';

interface Parsed {
  data: string;
  event: string;
}

function parse(chunks: (string | Uint8Array)[], opts: { flush?: boolean; maxLineBytes?: number } = {}): Parsed[] {
  const events: Parsed[] = [];
  const parser = new SseParser((data, event) => events.push({ data, event }), { maxLineBytes: opts.maxLineBytes });
  for (const c of chunks) parser.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : c);
  if (opts.flush === true) parser.flush();
  return events;
}

/** Every way of cutting `bytes` into two chunks, plus one byte at a time. */
function splits(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 0; i <= bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  out.push([...bytes].map((b) => Buffer.from([b])));
  return out;
}

describe('SseParser', () => {
  it('parses OpenAI-style data events', () => {
    expect(parse(['data: {"a":1}\n\ndata: [DONE]\n\n'])).toEqual([
      { data: '{"a":1}', event: 'message' },
      { data: '[DONE]', event: 'message' },
    ]);
  });

  it('handles LF, CRLF and CR line endings, including a CRLF split between chunks', () => {
    const expected = [
      { data: 'one', event: 'message' },
      { data: 'two', event: 'message' },
      { data: 'three', event: 'message' },
    ];
    expect(parse(['data: one\n\ndata: two\r\n\r\ndata: three\r\r'])).toEqual(expected);
    expect(parse(['data: one\r', '\n\r', '\ndata: two\r\n\r\ndata: three\r', '\r'])).toEqual(expected);
  });

  it('joins multi-line data, reads event names, skips comments and unknown fields', () => {
    const events = parse([': keep-alive\n', 'id: 7\nretry: 10\nevent: error\ndata: a\ndata:b\ndata\nfoo: bar\n\n']);
    expect(events).toEqual([{ data: 'a\nb\n', event: 'error' }]);
  });

  it('does not dispatch events without data and resets the event name after each event', () => {
    expect(parse(['event: x\n\ndata:\n\ndata: y\n\n'])).toEqual([{ data: 'y', event: 'message' }]);
  });

  it('strips a leading byte order mark', () => {
    expect(parse([Buffer.from([0xef, 0xbb, 0xbf]), 'data: z\n\n'])).toEqual([{ data: 'z', event: 'message' }]);
    expect(parse([Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('data: z\n\n')])])).toEqual([
      { data: 'z', event: 'message' },
    ]);
  });

  it('gives the same events however a stream is split into chunks (lines split across chunks)', () => {
    const stream = Buffer.from('data: {"choices":[{"delta":{"content":"Hello"}}]}\r\n\r\n: ping\n\nevent: e\ndata: x\n\ndata: [DONE]\n\n');
    const whole = parse([stream]);
    expect(whole).toHaveLength(3);
    for (const chunks of splits(stream)) expect(parse(chunks)).toEqual(whole);
  });

  it('decodes multi-byte UTF-8 characters split across chunks', () => {
    const text = 'héllo wörld — 你好 🎉👩‍💻';
    const stream = Buffer.from(`data: ${text}\n\ndata: ${text}${text}\n\n`, 'utf8');
    for (const chunks of splits(stream)) {
      expect(parse(chunks)).toEqual([
        { data: text, event: 'message' },
        { data: text + text, event: 'message' },
      ]);
    }
  });

  it('joins a line that arrives in many pieces', () => {
    const value = 'x'.repeat(100_000);
    const bytes = Buffer.from(`data: ${value}\n\n`);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    expect(parse(chunks)).toEqual([{ data: value, event: 'message' }]);
  });

  it('drops an unterminated event at the end unless flushed, and never a half line', () => {
    expect(parse(['data: a\n'])).toEqual([]);
    expect(parse(['data: a\n'], { flush: true })).toEqual([{ data: 'a', event: 'message' }]);
    expect(parse(['data: a\ndata: partial'], { flush: true })).toEqual([{ data: 'a', event: 'message' }]);
  });

  it('refuses a line longer than the limit', () => {
    expect(() => parse(['data: ', 'y'.repeat(2000)], { maxLineBytes: 1024 })).toThrow(SseLineTooLongError);
  });

  it('lets an error thrown by the handler propagate', () => {
    const parser = new SseParser(() => {
      throw new Error('bad event');
    });
    expect(() => parser.push(Buffer.from('data: x\n\n'))).toThrow('bad event');
  });
});
