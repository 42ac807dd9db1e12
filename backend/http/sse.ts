import type { ServerResponse } from 'node:http';

/**
 * Server-sent events on a response. Frames written in the same tick are corked and leave in one
 * write (one syscall for all the tokens of one upstream chunk) without waiting for a timer, so
 * batching adds no latency.
 */
export class SseWriter {
  private corked = false;
  private ended = false;

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

  send(event: string, data: unknown): void {
    if (!this.open) return;
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(() => {
        this.corked = false;
        this.res.uncork();
      });
    }
    this.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** A comment line keeps proxies from closing an idle stream. */
  ping(): void {
    if (this.open) this.res.write(': ping\n\n');
  }

  end(): void {
    if (!this.open) return;
    this.ended = true;
    this.res.end();
  }
}
