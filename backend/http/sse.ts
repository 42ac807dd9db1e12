import type { ServerResponse } from 'node:http';

/**
 * Server-sent events on a response. Frames sent in the same tick are joined into one string and
 * leave in one write at the end of the tick: one chunk, one syscall, for all the tokens of one
 * upstream read, and no timer, so batching adds no latency. (A write per frame, even corked,
 * costs a chunked-encoding frame and a trip through the stream machinery per token.)
 */
export class SseWriter {
  private pending = '';
  private ended = false;
  private readonly flush = (): void => {
    const text = this.pending;
    this.pending = '';
    if (text.length > 0 && this.open) this.res.write(text);
  };

  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    res.flushHeaders();
  }

  get open(): boolean {
    return !this.ended && !this.res.destroyed && !this.res.writableEnded;
  }

  /** `id` becomes the event's id, which a reconnecting client sends back as Last-Event-ID. */
  send(event: string, data: unknown, id?: number): void {
    if (this.open) this.queue(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Queues frames already formatted (`data: …\n\n`), as OpenAI-style streams send them. */
  frame(text: string): void {
    if (this.open) this.queue(text);
  }

  /** A comment line keeps proxies from closing an idle stream. */
  ping(): void {
    if (this.open) this.queue(': ping\n\n');
  }

  end(): void {
    if (!this.open) return;
    this.flush();
    this.ended = true;
    this.res.end();
  }

  private queue(frame: string): void {
    if (this.pending.length === 0) process.nextTick(this.flush);
    this.pending += frame;
  }
}
