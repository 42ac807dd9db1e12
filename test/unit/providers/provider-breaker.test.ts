import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Breaker } from '../../../backend/breaker/breaker.js';
import { httpStatusOf } from '../../../backend/http/errors.js';
import { OpenAICompatibleProvider } from '../../../backend/providers/openai-compatible.js';
import type { ChatTurn } from '../../../backend/providers/types.js';
import { settledBeforeTheLoopTurns, WAITED } from '../../fixtures/event-loop.js';
import { startFakeProvider, type FakeProvider } from '../../fixtures/fake-provider.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';
import { collect, deadPort, testBreaker } from './harness.js';

const messages: ChatTurn[] = [{ role: 'user', content: 'hi' }];
const signal = (): AbortSignal => new AbortController().signal;

let fake: FakeProvider;
let breaker: Breaker;
let provider: OpenAICompatibleProvider;

function use(b: Breaker, baseUrl = fake.url): OpenAICompatibleProvider {
  breaker = b;
  // Limits a busy machine cannot reach by running a healthy call late: these tests are about the
  // breaker, whose own time limit is set where a test is about it.
  provider = new OpenAICompatibleProvider({ baseUrl, model: 'm', breaker, idleTimeoutMs: PATIENCE_MS, connectTimeoutMs: PATIENCE_MS });
  return provider;
}

beforeEach(async () => {
  fake = await startFakeProvider({ tokens: 3 });
});

afterEach(async () => {
  await provider.close();
  breaker.shutdown();
  await fake.close();
});

describe('provider breaker', () => {
  it('opens after N consecutive failures, then rejects fast without calling the provider', async () => {
    const p = use(testBreaker({ threshold: 3, resetTimeoutMs: 60_000 }));
    fake.set({ mode: 'http-error', errorStatus: 503 });
    for (let i = 0; i < 3; i++) {
      expect((await collect(p.stream({ messages, signal: signal() }))).error?.code).toBe('provider-error');
    }
    expect(breaker.state).toBe('open');
    // A provider that would leave a call waiting: reaching it would show as a hang, not a refusal.
    fake.set({ mode: 'hang-before-headers' });
    const before = fake.requests.length;
    const out = await settledBeforeTheLoopTurns(collect(p.stream({ messages, signal: signal() })));
    // Refused on promise callbacks alone, before any timer or socket event could run: no timeout
    // was waited for and no connection was made, however busy the machine. The provider's request
    // count below says it was not called.
    if (out === WAITED) throw new Error('the open breaker let the call wait for a timer or a socket');
    expect(out.error?.code).toBe('provider-circuit-open');
    expect(out.error && httpStatusOf(out.error)).toBe(503);
    await expect(p.listModels()).rejects.toMatchObject({ code: 'provider-circuit-open' });
    expect(fake.requests.length).toBe(before);
    expect(breaker.snapshot().rejects).toBe(2);
  });

  it('lets a trial through after the reset timeout and closes again when it succeeds', async () => {
    const p = use(testBreaker({ threshold: 2, resetTimeoutMs: 150 }));
    fake.set({ mode: 'http-error', errorStatus: 500 });
    await collect(p.stream({ messages, signal: signal() }));
    await collect(p.stream({ messages, signal: signal() }));
    expect(breaker.state).toBe('open');
    fake.set({ mode: 'ok' });
    expect((await collect(p.stream({ messages, signal: signal() }))).error?.code).toBe('provider-circuit-open');
    await expect.poll(() => breaker.state).toBe('halfOpen');
    const out = await collect(p.stream({ messages, signal: signal() }));
    expect(out.error).toBeUndefined();
    expect(out.text).toBe('tok0 tok1 tok2 ');
    expect(breaker.state).toBe('closed');
  });

  it('a failed trial opens it again', async () => {
    const p = use(testBreaker({ threshold: 1, resetTimeoutMs: 100 }));
    fake.set({ mode: 'http-error', errorStatus: 500 });
    await collect(p.stream({ messages, signal: signal() }));
    await expect.poll(() => breaker.state).toBe('halfOpen');
    expect((await collect(p.stream({ messages, signal: signal() }))).error?.code).toBe('provider-error');
    expect(breaker.state).toBe('open');
  });

  it('connection refused counts as a failure', async () => {
    const port = await deadPort();
    const p = use(testBreaker({ threshold: 2, resetTimeoutMs: 60_000 }), `http://127.0.0.1:${port}/v1`);
    expect((await collect(p.stream({ messages, signal: signal() }))).error?.code).toBe('provider-unavailable');
    expect((await collect(p.stream({ messages, signal: signal() }))).error?.code).toBe('provider-unavailable');
    expect((await collect(p.stream({ messages, signal: signal() }))).error?.code).toBe('provider-circuit-open');
  });

  it('4xx answers and caller cancels are not failures', async () => {
    const p = use(testBreaker({ threshold: 2, resetTimeoutMs: 60_000 }));
    fake.set({ mode: 'http-error', errorStatus: 400 });
    for (let i = 0; i < 3; i++) await collect(p.stream({ messages, signal: signal() }));
    fake.set({ mode: 'hang-before-headers' });
    for (let i = 0; i < 3; i++) {
      const ctl = new AbortController();
      const pending = collect(p.stream({ messages, signal: ctl.signal }));
      setTimeout(() => ctl.abort(), 20);
      expect((await pending).error?.code).toBe('cancelled');
    }
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot().failures).toBe(0);
  });

  it('a stream cut mid-reply is reported as a failure', async () => {
    const p = use(testBreaker({ threshold: 1, resetTimeoutMs: 60_000 }));
    fake.set({ mode: 'disconnect-after', disconnectAfterTokens: 1 });
    expect((await collect(p.stream({ messages, signal: signal() }))).error?.code).toBe('provider-disconnected');
    expect(breaker.state).toBe('open');
  });

  it('a breaker time limit on establishing the stream is provider-timeout and aborts the attempt', async () => {
    const p = use(testBreaker({ threshold: 5, resetTimeoutMs: 60_000, timeoutMs: 100 }));
    fake.set({ mode: 'hang-before-headers' });
    const out = await collect(p.stream({ messages, signal: signal() }));
    expect(out.error?.code).toBe('provider-timeout');
    await expect.poll(() => fake.requests.at(-1)?.aborted).toBe(true);
    expect(breaker.snapshot()).toMatchObject({ timeouts: 1, failures: 1 });
  });
});
