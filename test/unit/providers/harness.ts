import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Breaker, type BreakerOptions } from '../../../backend/breaker/breaker.js';
import { isProviderFailure, ProviderError } from '../../../backend/providers/errors.js';
import type { StreamEvent } from '../../../backend/providers/types.js';

export interface Collected {
  text: string;
  deltas: string[];
  usage: Extract<StreamEvent, { type: 'usage' }> | undefined;
  finishReason: string | undefined;
  toolCalls: Extract<StreamEvent, { type: 'tool-calls' }>['calls'];
  error: ProviderError | undefined;
}

/** Drains a stream, keeping what arrived before a failure. */
export async function collect(stream: AsyncIterable<StreamEvent>): Promise<Collected> {
  const out: Collected = { text: '', deltas: [], usage: undefined, finishReason: undefined, toolCalls: [], error: undefined };
  try {
    for await (const ev of stream) {
      if (ev.type === 'delta') {
        out.deltas.push(ev.text);
        out.text += ev.text;
      } else if (ev.type === 'usage') {
        out.usage = ev;
      } else if (ev.type === 'finish') {
        out.finishReason = ev.reason;
      } else {
        out.toolCalls.push(...ev.calls);
      }
    }
  } catch (err) {
    if (!(err instanceof ProviderError)) throw err;
    out.error = err;
  }
  return out;
}

export function testBreaker(options: Partial<BreakerOptions> = {}): Breaker {
  return new Breaker('provider:test', {
    threshold: 3,
    resetTimeoutMs: 200,
    timeoutMs: false,
    isFailure: isProviderFailure,
    ...options,
  });
}

/** A loopback port nobody listens on (it was free a moment ago). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
