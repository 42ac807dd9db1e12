import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { BreakerRegistry } from '../../../backend/breaker/breaker.js';
import { DomainError } from '../../../backend/errors.js';
import { httpStatusOf } from '../../../backend/http/errors.js';
import { ProviderError } from '../../../backend/providers/errors.js';
import {
  createProviderRegistry,
  type ProviderLogger,
  type ProviderRegistry,
  type ProviderRegistryOptions,
} from '../../../backend/providers/registry.js';
import type { ChatTurn, StreamEvent } from '../../../backend/providers/types.js';
import { startFakeProvider, type FakeProvider } from '../../fixtures/fake-provider.js';
import { collect, deadPort } from './harness.js';
import { PATIENCE_MS, SCHEDULING_SLACK_MS, TIMER_ROUNDING_MS } from '../../fixtures/patience.js';
import { fakeReply } from '../../fixtures/token-stream.js';

const messages: ChatTurn[] = [{ role: 'user', content: 'hi' }];
const signal = (): AbortSignal => new AbortController().signal;

let breakers: BreakerRegistry;
let registry: ProviderRegistry | undefined;
const fakes: FakeProvider[] = [];
const logs: { level: 'info' | 'warn'; msg: string | undefined; obj: Record<string, unknown> }[] = [];
const logger: ProviderLogger = {
  info: (obj, msg) => logs.push({ level: 'info', msg, obj }),
  warn: (obj, msg) => logs.push({ level: 'warn', msg, obj }),
};

async function fake(...args: Parameters<typeof startFakeProvider>): Promise<FakeProvider> {
  const f = await startFakeProvider(...args);
  fakes.push(f);
  return f;
}

const REPROBE_INTERVAL_MS = 100;

/**
 * Stops Date for the rest of the test and returns what moves it on. The registry reads its re-probe
 * interval from Date: moving the clock is the interval passing, where a sleep would be a guess at
 * how long a busy machine takes to let it pass. Timers and sockets keep running.
 */
function stopTheClock(): (ms: number) => void {
  vi.useFakeTimers({ toFake: ['Date'] });
  onTestFinished(() => {
    vi.useRealTimers();
  });
  return (ms) => {
    vi.setSystemTime(Date.now() + ms);
  };
}

function create(options: Partial<ProviderRegistryOptions>): ProviderRegistry {
  registry = createProviderRegistry({
    breakers,
    breakerOptions: { threshold: 3, resetTimeoutMs: 60_000 },
    // Providers that answer must not be taken for dead because a busy machine answered late; the
    // tests about the probe's time limit set their own.
    probeTimeoutMs: 10_000,
    reprobeIntervalMs: REPROBE_INTERVAL_MS,
    idleTimeoutMs: PATIENCE_MS,
    logger,
    ...options,
  });
  return registry;
}

const models = (f: FakeProvider): number => f.requests.filter((r) => r.path === '/v1/models').length;
const tcpHandles = (): number =>
  process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;

beforeEach(() => {
  breakers = new BreakerRegistry();
  logs.length = 0;
});

afterEach(async () => {
  await registry?.close();
  registry = undefined;
  breakers.shutdown();
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

describe('provider registry, configured', () => {
  it('uses the configured provider without probing, behind its own named breaker', async () => {
    const f = await fake({ tokens: 2 });
    const probe = await fake();
    const r = create({ baseUrl: `${f.url}/`, apiKey: 'k', model: 'fake-model', probeTargets: [probe.url] });
    expect(r.current()).toEqual({
      id: `openai-compatible:${f.url}`,
      baseUrl: f.url,
      model: 'fake-model',
      source: 'configured',
      status: 'unknown',
      breaker: 'closed',
    });
    const provider = await r.resolve();
    expect(provider.baseUrl).toBe(f.url);
    const out = await collect(provider.stream({ messages, signal: signal() }));
    expect(out.text).toBe('tok0 tok1 ');
    expect(f.requests[0]?.headers.authorization).toBe('Bearer k');
    expect(r.current().status).toBe('up');
    expect(breakers.get(`provider:127.0.0.1:${f.port}`)?.state).toBe('closed');
    expect(probe.requests).toHaveLength(0);
    await expect(r.listModels()).resolves.toEqual({ provider: provider.id, models: ['fake-model', 'fake-model-2'] });
  });

  it('reports a configured provider that fails as down, and keeps using it', async () => {
    const f = await fake();
    const r = create({ baseUrl: f.url, model: 'm' });
    f.set({ mode: 'http-error', errorStatus: 500 });
    const p = await r.resolve();
    expect((await collect(p.stream({ messages, signal: signal() }))).error?.code).toBe('provider-error');
    expect(r.current().status).toBe('down');
    expect(await r.resolve()).toBe(p);
  });

  it('refuses an invalid base URL and keeps the working setup', async () => {
    const f = await fake();
    const r = create({ baseUrl: f.url });
    const refused: unknown = await r.reconfigure({ baseUrl: 'ftp://example.com' }).then(() => undefined, (err: unknown) => err);
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ code: 'invalid-provider-url', kind: 'invalid' });
    expect(httpStatusOf(refused as DomainError)).toBe(400);
    expect(() => create({ baseUrl: 'not a url' })).toThrow(DomainError);
    registry = r;
    expect(r.current().baseUrl).toBe(f.url);
  });
});

describe('provider registry, probing', () => {
  it('finds a local provider among the probe targets and caches it', async () => {
    const f = await fake({ tokens: 1 });
    const dead = await deadPort();
    const r = create({ probeTargets: [`http://127.0.0.1:${dead}/v1`, f.url] });
    expect(r.current()).toMatchObject({ source: 'none', status: 'unknown', id: null, breaker: null });
    const p = await r.resolve();
    expect(p.baseUrl).toBe(f.url);
    expect(r.current()).toMatchObject({ source: 'probed', status: 'up', baseUrl: f.url, breaker: 'closed' });
    expect(breakers.get(`provider:127.0.0.1:${f.port}`)).toBeDefined();
    expect(await r.resolve()).toBe(p);
    expect(models(f)).toBe(1);
    expect((await collect(p.stream({ messages, signal: signal() }))).text).toBe('tok0 ');
    expect(logs.some((l) => l.msg === 'found a local model provider')).toBe(true);
  });

  it('prefers the first target in order when several answer', async () => {
    const a = await fake({ firstTokenDelayMs: 0 });
    const b = await fake();
    const r = create({ probeTargets: [a.url, b.url] });
    expect((await r.resolve()).baseUrl).toBe(a.url);
  });

  it('returns no-provider, explaining what to do, when nothing answers in time', async () => {
    const hanging = await fake({ modelsMode: 'hang-before-headers' });
    const notOpenAI = await fake({ modelsMode: 'http-error', errorStatus: 404 });
    const dead = await deadPort();
    const targets = [`http://127.0.0.1:${dead}/v1`, hanging.url, notOpenAI.url];
    const probeTimeoutMs = 100;
    const r = create({ probeTargets: targets, probeTimeoutMs });
    const started = performance.now();
    const err: unknown = await r.resolve().catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    // The hanging target never answers, so only the probe's time limit can end the wait: the
    // answer came after it (not before every target had its chance; a busy machine only makes it
    // later), and the upper bound tells a limit that fires from a hang.
    expect(elapsed).toBeGreaterThanOrEqual(probeTimeoutMs - TIMER_ROUNDING_MS);
    expect(elapsed).toBeLessThan(probeTimeoutMs + SCHEDULING_SLACK_MS);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: 'no-provider', kind: 'unavailable', details: { probed: targets } });
    expect(httpStatusOf(err as ProviderError)).toBe(503);
    expect((err as Error).message).toMatch(/LLM_BASE_URL/);
    expect((err as Error).message).toMatch(/Ollama/);
    expect((err as Error).message).toMatch(/LM Studio/);
    expect(r.current()).toMatchObject({ source: 'none', status: 'down' });
    await expect(r.listModels()).rejects.toMatchObject({ code: 'no-provider' });
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);
  });

  it('re-probes at most once per interval, with concurrent callers sharing one probe', async () => {
    // The stopped clock keeps a busy machine from letting the interval pass between two calls.
    const passes = stopTheClock();
    const f = await fake({ mode: 'refuse' });
    const r = create({ probeTargets: [f.url], reprobeIntervalMs: 300 });
    const results = await Promise.allSettled([r.resolve(), r.resolve(), r.resolve()]);
    expect(results.every((x) => x.status === 'rejected')).toBe(true);
    f.set({ mode: 'ok' });
    passes(299);
    await expect(r.resolve()).rejects.toMatchObject({ code: 'no-provider' });
    expect(models(f)).toBe(0);
    passes(1);
    const [p1, p2] = await Promise.all([r.resolve(), r.resolve()]);
    expect(p1).toBe(p2);
    expect(p1.baseUrl).toBe(f.url);
    expect(models(f)).toBe(1);
  });

  it('re-probes when the probed provider fails and moves to one that answers', async () => {
    const passes = stopTheClock();
    const a = await fake();
    const b = await fake({ tokens: 1 });
    const r = create({ probeTargets: [a.url, b.url] });
    const pa = await r.resolve();
    expect(pa.baseUrl).toBe(a.url);
    a.set({ mode: 'refuse' });
    expect((await collect(pa.stream({ model: 'm', messages, signal: signal() }))).error?.code).toBe('provider-unavailable');
    expect(r.current()).toMatchObject({ source: 'probed', status: 'down', baseUrl: a.url });
    passes(REPROBE_INTERVAL_MS);
    const pb = await r.resolve();
    expect(pb.baseUrl).toBe(b.url);
    expect(r.current()).toMatchObject({ source: 'probed', baseUrl: b.url, status: 'up' });
    expect(breakers.get(`provider:127.0.0.1:${a.port}`)).toBeUndefined();
    expect(breakers.get(`provider:127.0.0.1:${b.port}`)).toBeDefined();
    expect((await collect(pb.stream({ messages, signal: signal() }))).text).toBe('tok0 ');
  });

  it('keeps a probed provider that failed once but still answers the probe', async () => {
    const passes = stopTheClock();
    const a = await fake();
    const r = create({ probeTargets: [a.url] });
    const pa = await r.resolve();
    a.set({ mode: 'http-error', errorStatus: 500 });
    await collect(pa.stream({ model: 'm', messages, signal: signal() }));
    expect(r.current().status).toBe('down');
    passes(REPROBE_INTERVAL_MS);
    expect(await r.resolve()).toBe(pa);
    // It was asked again (a probe after the interval), not merely kept because it was too soon.
    expect(models(a)).toBe(2);
  });
});

describe('provider registry, reconfigure and close', () => {
  it('switches providers live; a reply in flight finishes on the old one', async () => {
    const a = await fake({ tokens: 20, tokenIntervalMs: 5 });
    const b = await fake({ tokens: 1 });
    const r = create({ baseUrl: a.url, model: 'm' });
    const pa = await r.resolve();
    const inFlight = collect(pa.stream({ messages, signal: signal() }));
    // The reply is streaming (not merely requested) when the switch happens.
    await expect.poll(() => a.activeStreams()).toBe(1);
    await r.reconfigure({ baseUrl: b.url, model: 'm' });
    const pb = await r.resolve();
    expect(pb.baseUrl).toBe(b.url);
    const old = await inFlight;
    expect(old.error).toBeUndefined();
    expect(old.text).toBe(fakeReply(20));
    expect((await collect(pb.stream({ messages, signal: signal() }))).text).toBe('tok0 ');
    expect((await collect(pa.stream({ messages, signal: signal() }))).error?.code).toBe('provider-unavailable');
    expect(breakers.list().map((x) => x.name)).toEqual([`provider:127.0.0.1:${b.port}`]);
  });

  it('goes back to probing when the base URL is cleared', async () => {
    const configured = await fake();
    const local = await fake();
    const r = create({ baseUrl: configured.url, probeTargets: [local.url] });
    await r.reconfigure({ baseUrl: '', model: 'fake-model-2' });
    expect(r.current()).toMatchObject({ source: 'none', status: 'unknown' });
    const p = await r.resolve();
    expect(p.baseUrl).toBe(local.url);
    expect(p.defaultModel).toBe('fake-model-2');
  });

  it('close releases providers, breakers and sockets, and is idempotent', async () => {
    const f = await fake({ tokens: 1000, tokenIntervalMs: 5 });
    const r = create({ probeTargets: [f.url] });
    const p = await r.resolve();
    const ctl = new AbortController();
    // Closed mid-reply: once a delta has reached us, not merely once the provider has the request
    // (a close before the response headers arrive is provider-unavailable, a different case).
    let deltas = 0;
    async function* counted(stream: AsyncIterable<StreamEvent>): AsyncIterable<StreamEvent> {
      for await (const ev of stream) {
        if (ev.type === 'delta') deltas++;
        yield ev;
      }
    }
    const streaming = collect(counted(p.stream({ messages, signal: ctl.signal })));
    await expect.poll(() => deltas).toBeGreaterThan(0);
    expect(f.activeStreams()).toBe(1);
    await Promise.all([r.close(), r.close()]);
    const out = await streaming;
    expect(out.error?.code).toBe('provider-disconnected');
    expect(breakers.list()).toHaveLength(0);
    await expect(r.resolve()).rejects.toMatchObject({ code: 'provider-unavailable' });
    await Promise.all(fakes.splice(0).map((x) => x.close()));
    // Every socket of this file (fakes, pools, probes) is gone.
    await expect.poll(tcpHandles).toBe(0);
  });

  it('accepts pino as its logger', () => {
    const log: ProviderLogger = pino({ enabled: false });
    expect(typeof log.info).toBe('function');
  });

  it('honours a caller cancel while waiting for a shared probe', async () => {
    const hanging = await fake({ modelsMode: 'hang-before-headers' });
    const r = create({ probeTargets: [hanging.url], probeTimeoutMs: 300 });
    const ctl = new AbortController();
    const pending = r.resolve(ctl.signal);
    ctl.abort();
    await expect(pending).rejects.toMatchObject({ code: 'cancelled' });
  });
});
