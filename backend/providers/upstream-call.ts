import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

/** The status line and headers of an upstream response. */
export interface UpstreamHead {
  statusCode: number;
  statusText: string;
  headers: IncomingHttpHeaders;
}

/** What cancels an upstream call: it says when, and why. */
export interface UpstreamAbortSource {
  readonly aborted: boolean;
  readonly reason: unknown;
  once(event: 'abort', listener: () => void): unknown;
  off(event: 'abort', listener: () => void): unknown;
}

/** Bytes a consumer may fall behind by before the socket is paused (TCP then holds the rest). */
export const PAUSE_AHEAD_BYTES = 256 * 1024;

/**
 * One request to the provider through undici's dispatcher, without a response stream: the head
 * arrives as a promise and each piece of the body goes straight to the consumer's callback, which
 * parses it on the spot. On the streaming path of a chat turn, undici's Readable body, its async
 * iterator and their per-chunk promises cost more than parsing the events themselves.
 *
 * Errors are undici's own (timeouts, a socket closed early, the abort reason), exactly as a
 * request() would have reported them. The caller's abort cuts the request whenever it comes:
 * before a connection is free (the head rejects at once, and undici drops the request when it
 * would have started), while waiting for the head, or mid-body.
 */
export class UpstreamCall implements Dispatcher.DispatchHandler {
  readonly head: Promise<UpstreamHead>;
  private resolveHead!: (head: UpstreamHead) => void;
  private rejectHead!: (err: Error) => void;
  private headSettled = false;
  private controller: Dispatcher.DispatchController | undefined;
  private sink: ((chunk: Buffer) => void) | undefined;
  private held: Buffer[] = [];
  private ahead = 0;
  private waiting: (() => void) | undefined;
  private tailTimer: NodeJS.Timeout | undefined;
  /** The body arrived in full. */
  ended = false;
  /** Why the call failed (after the head: mid-body), if it did. */
  failure: Error | undefined;

  constructor(private readonly abortSource: UpstreamAbortSource) {
    this.head = new Promise<UpstreamHead>((resolve, reject) => {
      this.resolveHead = resolve;
      this.rejectHead = reject;
    });
    // Nobody may be waiting for the head when it fails (a call cut mid-body); that is no error.
    this.head.catch(() => undefined);
    if (abortSource.aborted) this.onAbort();
    else abortSource.once('abort', this.onAbort);
  }

  /** Where the body goes from now on; what arrived before is handed over first. */
  consume(sink: (chunk: Buffer) => void): void {
    this.sink = sink;
    const held = this.held;
    this.held = [];
    for (const chunk of held) sink(chunk);
  }

  /** Resolves at the next piece of the body, its end, or a failure. */
  next(): Promise<void> {
    if (this.ended || this.failure !== undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.waiting = resolve;
    });
  }

  /** The consumer caught up with what was handed to it: let the socket go on if it was paused. */
  caughtUp(): void {
    this.ahead = 0;
    if (this.controller?.paused === true) this.controller.resume();
  }

  /** The body as text, at most `limit` bytes of it (the rest is cut with the connection). */
  async text(limit: number): Promise<string> {
    const parts: Buffer[] = [];
    let size = 0;
    this.consume((chunk) => {
      if (size >= limit) return;
      parts.push(chunk);
      size += chunk.length;
      this.caughtUp();
    });
    while (!this.ended && this.failure === undefined && size < limit) await this.next();
    if (size < limit && this.failure !== undefined) throw this.failure;
    if (!this.ended) this.controller?.abort(new Error('the response was longer than its limit'));
    return Buffer.concat(parts, size).toString('utf8', 0, Math.min(size, limit));
  }

  /**
   * The consumer has all it needs; what follows (normally only the chunked terminator) is read and
   * dropped so the connection goes back to the pool. A provider that keeps talking past `limit`
   * bytes or `timeoutMs` loses the connection instead.
   */
  dropRest(limit: number, timeoutMs: number): void {
    if (this.ended || this.failure !== undefined) return;
    let bytes = 0;
    this.sink = (chunk) => {
      bytes += chunk.length;
      if (bytes > limit) this.cut();
    };
    this.caughtUp();
    this.tailTimer = setTimeout(() => this.cut(), timeoutMs);
    this.tailTimer.unref();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortSource.aborted) controller.abort(asError(this.abortSource.reason));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusText?: string): void {
    if (this.headSettled) return;
    this.headSettled = true;
    this.resolveHead({ statusCode, statusText: statusText ?? '', headers });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.sink !== undefined) this.sink(chunk);
    else this.held.push(chunk);
    this.ahead += chunk.length;
    if (this.ahead > PAUSE_AHEAD_BYTES && !controller.paused) controller.pause();
    this.wake();
  }

  onResponseEnd(): void {
    this.ended = true;
    this.settle();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.failure ??= err;
    if (!this.headSettled) {
      this.headSettled = true;
      this.rejectHead(err);
    }
    this.settle();
  }

  private readonly onAbort = (): void => {
    const reason = asError(this.abortSource.reason);
    if (!this.headSettled) {
      this.headSettled = true;
      this.rejectHead(reason);
    }
    this.controller?.abort(reason);
  };

  private cut(): void {
    this.controller?.abort(new Error('the provider kept sending after the end of the reply'));
  }

  private settle(): void {
    this.abortSource.off('abort', this.onAbort);
    clearTimeout(this.tailTimer);
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    if (waiting === undefined) return;
    this.waiting = undefined;
    waiting();
  }
}

/** undici's controller takes an Error; an abort reason is one nearly always (an AbortError). */
function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
