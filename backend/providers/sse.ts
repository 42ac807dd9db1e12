/**
 * Incremental server-sent-events parser (the WHATWG event-stream format) working on raw bytes.
 *
 * It sits on the token hot path, so it splits lines with Buffer#indexOf on bytes and decodes
 * only the value of `data:` and `event:` lines, once each. Lines are split on LF/CR bytes, which
 * never occur inside a multi-byte UTF-8 sequence, so a character split across chunks is decoded
 * whole once its line is complete. A line split across chunks is kept as the list of its pieces
 * and joined once, when its end arrives, so a long line costs linear time.
 */

export type SseHandler = (data: string, event: string) => void;

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

export interface SseParserOptions {
  /** A line longer than this (bytes) is an error rather than unbounded memory. Default 16 MiB. */
  maxLineBytes?: number;
}

export class SseLineTooLongError extends Error {
  constructor(limit: number) {
    super(`event-stream line longer than ${limit} bytes`);
    this.name = 'SseLineTooLongError';
  }
}

export class SseParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The previous chunk ended in CR, so an LF opening the next one belongs to it. */
  private skipLf = false;
  private atStart = true;
  private data: string | null = null;
  private event = '';
  private readonly maxLineBytes: number;

  constructor(
    private readonly onEvent: SseHandler,
    options: SseParserOptions = {},
  ) {
    this.maxLineBytes = options.maxLineBytes ?? 16 * 1024 * 1024;
  }

  /** Feeds the next chunk; complete events are passed to the handler before this returns. */
  push(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const len = buf.length;
    if (len === 0) return;
    let pos = 0;
    if (this.skipLf) {
      this.skipLf = false;
      if (buf[0] === LF) pos = 1;
    }
    if (this.atStart) {
      // A UTF-8 byte order mark may open the stream and is not part of the first field.
      this.atStart = false;
      if (len >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
    }
    // -2: not searched yet in this chunk; -1: none left in this chunk.
    let cr = -2;
    while (pos < len) {
      const lf = buf.indexOf(LF, pos);
      if (cr !== -1 && cr < pos) cr = buf.indexOf(CR, pos);
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        end = cr;
        if (cr + 1 < len) {
          next = buf[cr + 1] === LF ? cr + 2 : cr + 1;
        } else {
          next = len;
          this.skipLf = true;
        }
      } else if (lf !== -1) {
        end = lf;
        next = lf + 1;
      } else {
        break;
      }
      if (this.pendingBytes === 0) {
        this.line(buf, pos, end);
      } else {
        this.pending.push(buf.subarray(pos, end));
        const line = Buffer.concat(this.pending, this.pendingBytes + (end - pos));
        this.pending = [];
        this.pendingBytes = 0;
        this.line(line, 0, line.length);
      }
      pos = next;
    }
    if (pos < len) {
      this.pendingBytes += len - pos;
      if (this.pendingBytes > this.maxLineBytes) throw new SseLineTooLongError(this.maxLineBytes);
      this.pending.push(buf.subarray(pos));
    }
  }

  /**
   * Dispatches an event whose lines all arrived but whose closing blank line did not. The
   * format says to drop it at end of stream; servers that omit the last blank line are common
   * enough that a client is better off lenient. An unterminated last line is still dropped.
   */
  flush(): void {
    this.dispatch();
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Forgets everything (a new stream). */
  reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.skipLf = false;
    this.atStart = true;
    this.data = null;
    this.event = '';
  }

  private line(buf: Buffer, start: number, end: number): void {
    if (start === end) {
      this.dispatch();
      return;
    }
    const c0 = buf[start];
    if (c0 === COLON) return; // comment (keep-alive)
    // data
    if (
      c0 === 0x64 &&
      end - start >= 4 &&
      buf[start + 1] === 0x61 &&
      buf[start + 2] === 0x74 &&
      buf[start + 3] === 0x61 &&
      (end - start === 4 || buf[start + 4] === COLON)
    ) {
      const value = this.value(buf, start + 4, end);
      this.data = this.data === null ? value : `${this.data}\n${value}`;
      return;
    }
    // event
    if (
      c0 === 0x65 &&
      end - start >= 5 &&
      buf[start + 1] === 0x76 &&
      buf[start + 2] === 0x65 &&
      buf[start + 3] === 0x6e &&
      buf[start + 4] === 0x74 &&
      (end - start === 5 || buf[start + 5] === COLON)
    ) {
      this.event = this.value(buf, start + 5, end);
    }
    // id, retry and unknown fields do not matter to a one-shot completion stream.
  }

  /** The value after `name`, where `at` points at the colon (or the line's end). */
  private value(buf: Buffer, at: number, end: number): string {
    if (at >= end) return '';
    let from = at + 1;
    if (from < end && buf[from] === SPACE) from++;
    return from === end ? '' : buf.toString('utf8', from, end);
  }

  private dispatch(): void {
    const data = this.data;
    const event = this.event;
    this.data = null;
    this.event = '';
    if (data === null || data === '') return;
    this.onEvent(data, event === '' ? 'message' : event);
  }
}
