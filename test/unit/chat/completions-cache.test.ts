import { describe, expect, it } from 'vitest';
import { CompletionCache } from '../../../backend/chat/completions-cache.js';
import { MemoryCache } from '../../../backend/cache/memory.js';
import { ProviderError } from '../../../backend/providers/errors.js';
import type { CompletionRequest, ModelProvider, StreamEvent } from '../../../backend/providers/types.js';

/** An in-process provider (the cache is the unit under test, not the wire protocol). */
function provider(chunks: string[], failAfter?: number): ModelProvider & { calls: number } {
  const p = {
    id: 'test:provider',
    baseUrl: 'http://127.0.0.1:1/v1',
    defaultModel: 'm',
    calls: 0,
    listModels: () => Promise.resolve(['m']),
    close: () => Promise.resolve(),
    async *stream(req: CompletionRequest): AsyncGenerator<StreamEvent> {
      p.calls++;
      for (const [i, text] of chunks.entries()) {
        if (failAfter !== undefined && i === failAfter) throw new ProviderError('provider-disconnected', 'gone');
        if (req.signal.aborted) throw new ProviderError('cancelled', 'cancelled');
        await Promise.resolve();
        yield { type: 'delta', text };
      }
      yield { type: 'usage', promptTokens: 3, completionTokens: chunks.length };
    },
  };
  return p;
}

async function drain(events: AsyncIterable<StreamEvent>): Promise<{ deltas: string[]; usage: StreamEvent | undefined; error?: unknown }> {
  const deltas: string[] = [];
  let usage: StreamEvent | undefined;
  try {
    for await (const e of events) {
      if (e.type === 'delta') deltas.push(e.text);
      else usage = e;
    }
  } catch (error) {
    return { deltas, usage, error };
  }
  return { deltas, usage };
}

const request = (content: string, signal = new AbortController().signal): CompletionRequest => ({
  model: 'm',
  messages: [{ role: 'user', content }],
  signal,
});

describe('completion cache', () => {
  it('replays a finished reply as the same chunks without calling the provider', async () => {
    const cache = new CompletionCache(new MemoryCache({ ttlSeconds: 60 }));
    const p = provider(['Hel', 'lo', ' world']);
    const first = await drain(cache.stream(p, request('hi')));
    const second = await drain(cache.stream(p, request('hi')));
    expect(p.calls).toBe(1);
    expect(second.deltas).toEqual(['Hel', 'lo', ' world']);
    expect(second.usage).toEqual(first.usage);
    // Another prompt or model is another completion.
    await drain(cache.stream(p, request('hi there')));
    await drain(cache.stream(p, { ...request('hi'), model: 'other' }));
    expect(p.calls).toBe(3);
  });

  it('never stores a reply that failed or was cancelled', async () => {
    const cache = new CompletionCache(new MemoryCache({ ttlSeconds: 60 }));
    const failing = provider(['a', 'b', 'c'], 2);
    expect((await drain(cache.stream(failing, request('q')))).error).toBeInstanceOf(ProviderError);
    const controller = new AbortController();
    const slow = provider(['a', 'b', 'c']);
    let cancelled: unknown;
    try {
      for await (const _ of cache.stream(slow, request('q', controller.signal))) controller.abort();
    } catch (err) {
      cancelled = err;
    }
    expect(cancelled).toMatchObject({ code: 'cancelled' });
    const fresh = provider(['ok']);
    expect((await drain(cache.stream(fresh, request('q')))).deltas).toEqual(['ok']);
    expect(fresh.calls).toBe(1);
  });

  it('stops a replay when the turn is cancelled', async () => {
    const cache = new CompletionCache(new MemoryCache({ ttlSeconds: 60 }));
    const p = provider(Array.from({ length: 100 }, (_, i) => `t${i}`));
    await drain(cache.stream(p, request('long')));
    const controller = new AbortController();
    const seen: string[] = [];
    let error: unknown;
    try {
      for await (const e of cache.stream(p, request('long', controller.signal))) {
        if (e.type === 'delta') seen.push(e.text);
        if (seen.length === 10) controller.abort();
      }
    } catch (err) {
      error = err;
    }
    expect(seen).toHaveLength(10);
    expect(error).toMatchObject({ code: 'cancelled' });
  });
});
