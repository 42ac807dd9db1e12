import { getEventListeners } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Breaker } from '../../../backend/breaker/breaker.js';
import { httpStatusOf } from '../../../backend/http/errors.js';
import { Cancellation } from '../../../backend/providers/cancellation.js';
import { ProviderError } from '../../../backend/providers/errors.js';
import { OpenAICompatibleProvider, type OpenAICompatibleOptions } from '../../../backend/providers/openai-compatible.js';
import type { CancelSignal, ChatTurn } from '../../../backend/providers/types.js';
import { startFakeProvider, toolCallEvents, type FakeProvider } from '../../fixtures/fake-provider.js';
import { PATIENCE_MS, SCHEDULING_SLACK_MS, TIMER_ROUNDING_MS } from '../../fixtures/patience.js';
import { collect, deadPort, testBreaker } from './harness.js';

const messages: ChatTurn[] = [
  { role: 'system', content: 'be brief' },
  { role: 'user', content: 'Hello there, model — ça va? 🎉' },
];

let fake: FakeProvider;
let breaker: Breaker;
const providers: OpenAICompatibleProvider[] = [];

function provider(options: Partial<OpenAICompatibleOptions> = {}): OpenAICompatibleProvider {
  // A provider that answers must not be taken for idle or unreachable because a busy machine ran
  // it late; the tests about those limits set their own.
  const p = new OpenAICompatibleProvider({ baseUrl: fake.url, breaker, idleTimeoutMs: PATIENCE_MS, connectTimeoutMs: PATIENCE_MS, ...options });
  providers.push(p);
  return p;
}

const signal = (): AbortSignal => new AbortController().signal;

beforeEach(async () => {
  fake = await startFakeProvider();
  breaker = testBreaker();
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
  breaker.shutdown();
  await fake.close();
});

describe('OpenAICompatibleProvider streaming', () => {
  it('streams the reply content and reports usage', async () => {
    fake.set({ echo: true });
    const p = provider({ model: 'fake-model-2' });
    const out = await collect(p.stream({ messages, signal: signal(), temperature: 0.2 }));
    expect(out.error).toBeUndefined();
    expect(out.text).toBe(messages[1]?.content);
    expect(out.deltas.length).toBeGreaterThan(3);
    expect(out.usage).toEqual({ type: 'usage', promptTokens: 9, completionTokens: out.deltas.length });
    const body = fake.requests.at(-1)?.body;
    expect(body).toMatchObject({
      model: 'fake-model-2',
      messages,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
    });
  });

  it('passes extra request fields and wire message fields through, and streams tool calls and the finish reason', async () => {
    const calls = [{ id: 'call_1', name: 'lookup', arguments: '{"q":"orchestra gateway"}' }];
    fake.set({ toolCalls: calls });
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }];
    const sent: ChatTurn[] = [
      { role: 'user', content: 'find it' },
      { role: 'assistant', content: '', wire: { content: null, tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'lookup', arguments: '{}' } }] } },
      { role: 'tool', content: 'nothing', wire: { tool_call_id: 'call_0' } },
    ];
    const out = await collect(
      // A caller's own `stream` or `model` cannot override the fields the provider owns.
      provider().stream({ model: 'fake-model', messages: sent, signal: signal(), extra: { tools, tool_choice: 'auto', stream: false, model: 'other' } }),
    );
    expect(out.error).toBeUndefined();
    expect(out.text).toBe('');
    expect(out.toolCalls).toEqual(toolCallEvents(calls));
    expect(out.finishReason).toBe('tool_calls');
    expect(fake.requests.at(-1)?.body).toEqual({
      model: 'fake-model',
      tools,
      tool_choice: 'auto',
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        { role: 'user', content: 'find it' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'lookup', arguments: '{}' } }] },
        { role: 'tool', content: 'nothing', tool_call_id: 'call_0' },
      ],
    });
  });

  it('streams a long reply with many tokens per chunk and multi-byte text intact', async () => {
    const tokenText = (i: number): string => (i % 3 === 0 ? `é${i}🎉 ` : `t${i} `);
    fake.set({ tokens: 3000, tokensPerChunk: 7, tokenText });
    const out = await collect(provider({ model: 'm' }).stream({ messages, signal: signal() }));
    let expected = '';
    for (let i = 0; i < 3000; i++) expected += tokenText(i);
    expect(out.error).toBeUndefined();
    expect(out.text).toBe(expected);
    // The fake writes 7 tokens per chunk; deltas from one network read arrive as one.
    expect(out.deltas.length).toBeGreaterThan(0);
    expect(out.deltas.length).toBeLessThanOrEqual(Math.ceil(3000 / 7));
  });

  it('uses the first listed model when none is given, and sends the API key', async () => {
    const p = provider({ apiKey: 'sk-test' });
    const out = await collect(p.stream({ messages, signal: signal() }));
    expect(out.error).toBeUndefined();
    expect(fake.requests.map((r) => r.path)).toEqual(['/v1/models', '/v1/chat/completions']);
    expect(fake.requests[1]?.body).toMatchObject({ model: 'fake-model' });
    for (const r of fake.requests) expect(r.headers.authorization).toBe('Bearer sk-test');
    // The listed default is remembered.
    await collect(p.stream({ messages, signal: signal() }));
    expect(fake.requests.filter((r) => r.path === '/v1/models')).toHaveLength(1);
  });

  it('lists models', async () => {
    fake.set({ models: ['a', 'b', 'c'] });
    await expect(provider().listModels()).resolves.toEqual(['a', 'b', 'c']);
  });

  it('a reply without usage ends without a usage event', async () => {
    fake.set({ usage: false, tokens: 2 });
    const out = await collect(provider({ model: 'm' }).stream({ messages, signal: signal() }));
    expect(out.text).toBe('tok0 tok1 ');
    expect(out.usage).toBeUndefined();
  });
});

/** The two kinds of cancel switch a caller may hand a provider: a standard one and the service's. */
const switches: Record<string, () => { signal: CancelSignal; abort(): void; listeners(): number }> = {
  AbortController: () => {
    const c = new AbortController();
    return { signal: c.signal, abort: () => c.abort(), listeners: () => getEventListeners(c.signal, 'abort').length };
  },
  Cancellation: () => {
    const c = new Cancellation();
    return { signal: c, abort: () => c.abort(), listeners: () => c.listenerCount };
  },
};

describe.each(Object.keys(switches))('OpenAICompatibleProvider cancel through an %s', (kind) => {
  const newSwitch = (): ReturnType<(typeof switches)[string]> => (switches[kind] as (typeof switches)[string])();

  it('aborting the signal stops the upstream request and ends the stream with cancelled', async () => {
    fake.set({ tokens: 1000, tokenIntervalMs: 10 });
    const ctl = newSwitch();
    const seen: string[] = [];
    let error: unknown;
    try {
      for await (const ev of provider({ model: 'm' }).stream({ messages, signal: ctl.signal })) {
        if (ev.type === 'delta') seen.push(ev.text);
        if (seen.length === 3) ctl.abort();
      }
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).code).toBe('cancelled');
    expect(httpStatusOf(error as ProviderError)).toBe(499);
    await fake.waitForAbort();
    expect(fake.requests.at(-1)?.aborted).toBe(true);
    expect(fake.activeStreams()).toBe(0);
    expect(breaker.snapshot().failures).toBe(0);
  });

  it('aborting while waiting for the headers stops the request', async () => {
    fake.set({ mode: 'hang-before-headers' });
    const ctl = newSwitch();
    const pending = collect(provider({ model: 'm' }).stream({ messages, signal: ctl.signal }));
    // Abort once the request is at the provider, waiting for headers that never come.
    await expect.poll(() => fake.requests.some((r) => r.path.endsWith('/chat/completions'))).toBe(true);
    ctl.abort();
    const out = await pending;
    expect(out.error?.code).toBe('cancelled');
    await expect.poll(() => fake.requests.at(-1)?.aborted).toBe(true);
    expect(breaker.snapshot().failures).toBe(0);
  });

  it('a consumer that stops iterating aborts the upstream request', async () => {
    fake.set({ tokens: 1000, tokenIntervalMs: 10 });
    let n = 0;
    for await (const ev of provider({ model: 'm' }).stream({ messages, signal: signal() })) {
      if (ev.type === 'delta' && ++n === 2) break;
    }
    await fake.waitForAbort();
    expect(fake.requests.at(-1)?.aborted).toBe(true);
  });

  it('a stream leaves no listener on the caller signal, whether it finished or failed', async () => {
    const ctl = newSwitch();
    const p = provider({ model: 'm' });
    const done = await collect(p.stream({ messages, signal: ctl.signal }));
    expect(done.error).toBeUndefined();
    expect(ctl.listeners()).toBe(0);
    fake.set({ mode: 'http-error', errorStatus: 500, errorMessage: 'model crashed' });
    const failed = await collect(p.stream({ messages, signal: ctl.signal }));
    expect(failed.error?.code).toBe('provider-error');
    expect(ctl.listeners()).toBe(0);
  });

  it('an already aborted signal never reaches the provider', async () => {
    const ctl = newSwitch();
    ctl.abort();
    const out = await collect(provider({ model: 'm' }).stream({ messages, signal: ctl.signal }));
    expect(out.error?.code).toBe('cancelled');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('OpenAICompatibleProvider failures', () => {
  it('connection refused is provider-unavailable', async () => {
    const port = await deadPort();
    const p = provider({ baseUrl: `http://127.0.0.1:${port}/v1`, model: 'm' });
    const out = await collect(p.stream({ messages, signal: signal() }));
    expect(out.error?.code).toBe('provider-unavailable');
    expect(out.error && httpStatusOf(out.error)).toBe(503);
    expect(out.error?.message).toContain('ECONNREFUSED');
    await expect(p.listModels()).rejects.toMatchObject({ code: 'provider-unavailable' });
  });

  it('a connection reset before the headers is provider-unavailable', async () => {
    fake.set({ mode: 'refuse' });
    const out = await collect(provider({ model: 'm' }).stream({ messages, signal: signal() }));
    expect(out.error?.code).toBe('provider-unavailable');
  });

  it('HTTP 500 is provider-error with the upstream status and message', async () => {
    fake.set({ mode: 'http-error', errorStatus: 500, errorMessage: 'model crashed' });
    const out = await collect(provider({ model: 'm' }).stream({ messages, signal: signal() }));
    expect(out.error).toBeInstanceOf(ProviderError);
    expect(out.error?.code).toBe('provider-error');
    expect(out.error && httpStatusOf(out.error)).toBe(502);
    expect(out.error?.details).toMatchObject({ status: 500, message: 'model crashed', upstreamCode: 'fake_500' });
    expect(out.error?.message).toContain('model crashed');
    expect(breaker.snapshot().failures).toBe(1);
  });

  it('an upstream 4xx is provider-error but not a breaker failure; 429 is one', async () => {
    fake.set({ mode: 'http-error', errorStatus: 404, errorMessage: 'model "x" not found' });
    const p = provider({ model: 'x' });
    const out = await collect(p.stream({ messages, signal: signal() }));
    expect(out.error?.details).toMatchObject({ status: 404, message: 'model "x" not found' });
    expect(breaker.snapshot().failures).toBe(0);
    fake.set({ errorStatus: 429, errorMessage: 'slow down' });
    expect((await collect(p.stream({ messages, signal: signal() }))).error?.details).toMatchObject({ status: 429 });
    expect(breaker.snapshot().failures).toBe(1);
  });

  it('headers then silence is provider-timeout after the idle timeout, and the request is aborted', async () => {
    fake.set({ mode: 'hang' });
    const idleTimeoutMs = 200;
    const started = performance.now();
    const out = await collect(provider({ model: 'm', idleTimeoutMs }).stream({ messages, signal: signal() }));
    const elapsed = performance.now() - started;
    expect(out.error?.code).toBe('provider-timeout');
    expect(out.error && httpStatusOf(out.error)).toBe(504);
    // Not before the idle limit (a busy machine only makes it later), and not never.
    expect(elapsed).toBeGreaterThanOrEqual(idleTimeoutMs - TIMER_ROUNDING_MS);
    expect(elapsed).toBeLessThan(idleTimeoutMs + SCHEDULING_SLACK_MS);
    await fake.waitForAbort();
    expect(breaker.snapshot().failures).toBe(1);
  });

  it('a stall mid-reply is provider-timeout after the deltas that did arrive', async () => {
    // Two tokens in one write, then silence: no timing decides how many arrive. The idle limit is
    // long enough that a starved event loop still reads them before the timer fires.
    fake.set({ tokens: 10, mode: 'stall-after', stallAfterTokens: 2, tokensPerChunk: 2 });
    const out = await collect(provider({ model: 'm', idleTimeoutMs: 1_000 }).stream({ messages, signal: signal() }));
    expect(out.text).toBe('tok0 tok1 ');
    expect(out.error?.code).toBe('provider-timeout');
  });

  it('no headers at all is provider-timeout after the headers timeout', async () => {
    fake.set({ mode: 'hang-before-headers' });
    const out = await collect(provider({ model: 'm', headersTimeoutMs: 200 }).stream({ messages, signal: signal() }));
    expect(out.error?.code).toBe('provider-timeout');
  });

  it('a slow consumer is not mistaken for an idle provider', async () => {
    // ~6 MB: far more than the socket and stream buffers hold, so the upstream must wait for us.
    const big = 'x'.repeat(2_000);
    fake.set({ tokens: 3_000, tokensPerChunk: 10, tokenText: () => big });
    // The consumer pauses for several idle limits; the limit itself is long enough that a busy
    // machine's pauses between the provider's writes do not reach it.
    const idleTimeoutMs = 1_000;
    const p = provider({ model: 'm', idleTimeoutMs });
    let n = 0;
    let chars = 0;
    for await (const ev of p.stream({ messages, signal: signal() })) {
      if (ev.type !== 'delta') continue;
      chars += ev.text.length;
      if (++n === 1) {
        // A pause the consumer takes, not a wait for something.
        await new Promise((r) => setTimeout(r, 3 * idleTimeoutMs));
        expect(fake.activeStreams()).toBe(1);
      }
    }
    expect(chars).toBe(3_000 * big.length);
  });

  it('a disconnect mid-stream is provider-disconnected after the deltas that arrived', async () => {
    fake.set({ mode: 'disconnect-after', tokens: 10, disconnectAfterTokens: 4 });
    const out = await collect(provider({ model: 'm' }).stream({ messages, signal: signal() }));
    expect(out.deltas).toEqual(['tok0 ', 'tok1 ', 'tok2 ', 'tok3 ']);
    expect(out.error?.code).toBe('provider-disconnected');
    expect(out.error && httpStatusOf(out.error)).toBe(502);
    // Establishing the stream succeeded; the cut is reported to the breaker separately.
    expect(breaker.snapshot()).toMatchObject({ successes: 1, failures: 1 });
  });

  it('a closed provider refuses new calls', async () => {
    const p = provider({ model: 'm' });
    await p.close();
    await p.close();
    expect((await collect(p.stream({ messages, signal: signal() }))).error?.code).toBe('provider-unavailable');
  });
});

describe('OpenAICompatibleProvider against other server shapes', () => {
  let server: Server | undefined;
  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  }
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    server = undefined;
  });

  it('accepts a stream that ends with finish_reason but no [DONE], and no trailing blank line', async () => {
    const baseUrl = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"delta":{"content":"b"},"finish_reason":"stop"}]}\n');
    });
    const out = await collect(provider({ baseUrl, model: 'm' }).stream({ messages, signal: signal() }));
    expect(out.error).toBeUndefined();
    expect(out.text).toBe('ab');
  });

  it('a clean end without [DONE] or finish_reason is provider-disconnected', async () => {
    const baseUrl = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
    });
    const out = await collect(provider({ baseUrl, model: 'm' }).stream({ messages, signal: signal() }));
    expect(out.text).toBe('a');
    expect(out.error?.code).toBe('provider-disconnected');
  });

  it('an error event mid-stream is provider-error with its message', async () => {
    const baseUrl = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"error":{"message":"overloaded","code":502}}\n\n');
    });
    const out = await collect(provider({ baseUrl, model: 'm' }).stream({ messages, signal: signal() }));
    expect(out.text).toBe('a');
    expect(out.error?.code).toBe('provider-error');
    expect(out.error?.details).toMatchObject({ message: 'overloaded', status: 502 });
  });

  it('a server that ignores stream:true and answers JSON still yields the reply', async () => {
    const baseUrl = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { content: 'whole' }, finish_reason: 'stop' }], usage: { prompt_tokens: 2, completion_tokens: 1 } }));
    });
    const out = await collect(provider({ baseUrl, model: 'm' }).stream({ messages, signal: signal() }));
    expect(out.text).toBe('whole');
    expect(out.usage).toEqual({ type: 'usage', promptTokens: 2, completionTokens: 1 });
  });

  /** A server whose every answer is a two-token reply and [DONE], then whatever `after` does. */
  async function serveReplies(after: (res: ServerResponse) => void): Promise<{ baseUrl: string; connections: Socket[]; closed: Promise<void> }> {
    const connections: Socket[] = [];
    let closedOne!: () => void;
    const closed = new Promise<void>((resolve) => (closedOne = resolve));
    const baseUrl = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"delta":{"content":"b"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n');
      after(res);
    });
    server?.on('connection', (socket: Socket) => {
      connections.push(socket);
      socket.on('close', () => closedOne());
    });
    return { baseUrl, connections, closed };
  }

  it('reads the end of a finished reply after [DONE], so the next call reuses the connection', async () => {
    const { baseUrl, connections } = await serveReplies((res) => res.end());
    const p = provider({ baseUrl, model: 'm' });
    const calls = 10;
    for (let i = 0; i < calls; i++) expect((await collect(p.stream({ messages, signal: signal() }))).text).toBe('ab');
    // A call may start while the one before is still reading its last bytes and take a second
    // connection; a connection given up after every reply would make one per call.
    expect(connections.length).toBeLessThanOrEqual(calls / 2);
  });

  it('cuts the connection of a provider that keeps sending after [DONE], and keeps the reply', async () => {
    const { baseUrl, closed } = await serveReplies((res) => {
      // Comments only, well past what may follow the end of a reply: none of it is an event.
      const filler = `: ${'x'.repeat(1_000)}\n`;
      const more = (): void => {
        if (res.destroyed) return;
        if (res.write(filler)) setImmediate(more);
        else res.once('drain', more);
      };
      more();
    });
    const out = await collect(provider({ baseUrl, model: 'm' }).stream({ messages, signal: signal() }));
    expect(out.text).toBe('ab');
    expect(out.error).toBeUndefined();
    await closed;
  });

  it('cuts the connection of a provider that never ends a finished reply', async () => {
    const { baseUrl, closed } = await serveReplies(() => undefined);
    const out = await collect(provider({ baseUrl, model: 'm' }).stream({ messages, signal: signal() }));
    expect(out.text).toBe('ab');
    // After a short grace time for the chunked terminator.
    await closed;
  });

  it('an Ollama-style error body gives its message', async () => {
    const baseUrl = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"model \\"llama9\\" not found, try pulling it first"}');
    });
    const out = await collect(provider({ baseUrl, model: 'llama9' }).stream({ messages, signal: signal() }));
    expect(out.error?.details).toMatchObject({ status: 404, message: 'model "llama9" not found, try pulling it first' });
  });
});
