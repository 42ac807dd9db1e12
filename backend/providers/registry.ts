import type { Breaker, BreakerRegistry, BreakerState } from '../breaker/breaker.js';
import { isProviderFailure, noProviderError, ProviderError } from './errors.js';
import { OpenAICompatibleProvider } from './openai-compatible.js';
import { probeOpenAICompatible } from './probe.js';
import { parseProviderUrl, providerBreakerName } from './provider-url.js';
import type { ModelProvider } from './types.js';

/**
 * Which provider chat talks to: the configured one (LLM_BASE_URL), or else whichever local
 * server (Ollama, LM Studio) answers a probe. Owns the providers it creates, their pools and
 * their breakers; settings changes swap providers live without cutting replies in flight.
 */

export const DEFAULT_PROBE_TARGETS: readonly string[] = ['http://127.0.0.1:11434/v1', 'http://127.0.0.1:1234/v1'];

/** The part of pino the registry uses. */
export interface ProviderLogger {
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
}

export interface ProviderBreakerOptions {
  threshold: number;
  resetTimeoutMs: number;
  /** Limit on establishing a stream; default `false` (the provider's own timeouts apply). */
  timeoutMs?: number | false;
}

export interface ProviderConfig {
  baseUrl?: string | undefined;
  apiKey?: string | undefined;
  model?: string | undefined;
}

export interface ProviderRegistryOptions extends ProviderConfig {
  breakers: BreakerRegistry;
  breakerOptions: ProviderBreakerOptions;
  probeTargets?: string[];
  /** Default 300 ms. */
  probeTimeoutMs?: number;
  /** Least time between two probes. Default 5 s. */
  reprobeIntervalMs?: number;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  headersTimeoutMs?: number;
  logger?: ProviderLogger;
}

export type ProviderSource = 'configured' | 'probed' | 'none';
export type ProviderHealth = 'up' | 'down' | 'unknown';

export interface ProviderStatus {
  id: string | null;
  baseUrl: string | null;
  model: string | null;
  source: ProviderSource;
  status: ProviderHealth;
  breaker: BreakerState | null;
}

export interface ProviderRegistry {
  /** The provider to use now; throws ProviderError `no-provider` when there is none. */
  resolve(signal?: AbortSignal): Promise<ModelProvider>;
  /** For status: never probes, never throws. */
  current(): ProviderStatus;
  listModels(signal?: AbortSignal): Promise<{ provider: string; models: string[] }>;
  /** Applies new settings; an empty baseUrl means "probe local servers". Replies in flight finish on the old provider. */
  reconfigure(config: ProviderConfig): Promise<void>;
  close(): Promise<void>;
}

export function createProviderRegistry(options: ProviderRegistryOptions): ProviderRegistry {
  return new Registry(options);
}

interface Entry {
  provider: OpenAICompatibleProvider;
  source: 'configured' | 'probed';
  breaker: Breaker;
  health: ProviderHealth;
  stopWatching: () => void;
}

const quietLogger: ProviderLogger = { info: () => undefined, warn: () => undefined };

class Registry implements ProviderRegistry {
  private readonly targets: string[];
  private readonly logger: ProviderLogger;
  private readonly probeTimeoutMs: number;
  private readonly reprobeIntervalMs: number;
  private config: ProviderConfig = {};
  private active: Entry | undefined;
  private readonly retiring = new Map<OpenAICompatibleProvider, Promise<void>>();
  private probing: Promise<OpenAICompatibleProvider | undefined> | undefined;
  private lastProbeAt = Number.NEGATIVE_INFINITY;
  /** Bumped by every reconfigure and by close, so a probe that was overtaken changes nothing. */
  private generation = 0;
  private warnedNone = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: ProviderRegistryOptions) {
    this.targets = (options.probeTargets ?? DEFAULT_PROBE_TARGETS).map((t) => parseProviderUrl(t).baseUrl);
    this.logger = options.logger ?? quietLogger;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 300;
    this.reprobeIntervalMs = options.reprobeIntervalMs ?? 5_000;
    this.apply({ baseUrl: options.baseUrl, apiKey: options.apiKey, model: options.model });
  }

  async resolve(signal?: AbortSignal): Promise<ModelProvider> {
    if (signal?.aborted === true) throw cancelled();
    if (this.closed) throw closedError();
    const entry = this.active;
    if (entry !== undefined && (entry.source === 'configured' || entry.health !== 'down')) return entry.provider;
    if (this.probing === undefined) {
      if (Date.now() - this.lastProbeAt < this.reprobeIntervalMs) {
        // Too soon to probe again: a provider that is down still fails fast through its breaker.
        if (entry !== undefined) return entry.provider;
        throw noProviderError(this.targets);
      }
      this.probing = this.probe().finally(() => {
        this.probing = undefined;
      });
    }
    const found = await withSignal(this.probing, signal);
    if (found === undefined) throw noProviderError(this.targets);
    return found;
  }

  current(): ProviderStatus {
    const entry = this.active;
    if (entry === undefined) {
      return {
        id: null,
        baseUrl: null,
        model: this.config.model ?? null,
        source: 'none',
        status: this.lastProbeAt === Number.NEGATIVE_INFINITY ? 'unknown' : 'down',
        breaker: null,
      };
    }
    return {
      id: entry.provider.id,
      baseUrl: entry.provider.baseUrl,
      model: entry.provider.defaultModel ?? null,
      source: entry.source,
      status: entry.breaker.state === 'open' ? 'down' : entry.health,
      breaker: entry.breaker.state,
    };
  }

  async listModels(signal?: AbortSignal): Promise<{ provider: string; models: string[] }> {
    const provider = await this.resolve(signal);
    return { provider: provider.id, models: await provider.listModels(signal) };
  }

  reconfigure(config: ProviderConfig): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    const baseUrl = config.baseUrl?.trim();
    try {
      // Validate first, so a bad URL leaves the working setup in place.
      if (baseUrl !== undefined && baseUrl !== '') parseProviderUrl(baseUrl);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.generation++;
    const old = this.active;
    this.active = undefined;
    if (old !== undefined) this.retire(old);
    const configured = this.apply(config);
    this.logger.info(
      { provider: configured?.provider.id ?? null, source: configured === undefined ? 'probe' : 'configured' },
      'model provider reconfigured',
    );
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.generation++;
    const entry = this.active;
    this.active = undefined;
    if (entry !== undefined) this.retire(entry);
    await this.probing?.catch(() => undefined);
    await Promise.allSettled([...this.retiring.keys()].map((p) => p.close()));
    await Promise.allSettled(this.retiring.values());
  }

  /** Installs the configured provider, if there is one, and forgets earlier probes. */
  private apply(config: ProviderConfig): Entry | undefined {
    const baseUrl = config.baseUrl?.trim();
    this.config = { ...config, baseUrl };
    this.lastProbeAt = Number.NEGATIVE_INFINITY;
    this.warnedNone = false;
    if (baseUrl === undefined || baseUrl === '') return undefined;
    this.active = this.activate(baseUrl, config.apiKey, config.model, 'configured', 'unknown');
    return this.active;
  }

  private activate(
    baseUrl: string,
    apiKey: string | undefined,
    model: string | undefined,
    source: Entry['source'],
    health: ProviderHealth,
  ): Entry {
    const url = parseProviderUrl(baseUrl);
    const { threshold, resetTimeoutMs, timeoutMs } = this.options.breakerOptions;
    const breaker = this.options.breakers.create(providerBreakerName(url), {
      threshold,
      resetTimeoutMs,
      timeoutMs: timeoutMs ?? false,
      isFailure: isProviderFailure,
    });
    const provider = new OpenAICompatibleProvider({
      baseUrl: url.baseUrl,
      apiKey,
      model,
      breaker,
      ...(this.options.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.options.connectTimeoutMs } : {}),
      ...(this.options.idleTimeoutMs !== undefined ? { idleTimeoutMs: this.options.idleTimeoutMs } : {}),
      ...(this.options.headersTimeoutMs !== undefined ? { headersTimeoutMs: this.options.headersTimeoutMs } : {}),
    });
    const entry: Entry = { provider, source, breaker, health, stopWatching: () => undefined };
    entry.stopWatching = breaker.onEvent((event) => {
      if (event === 'success' || event === 'close') entry.health = 'up';
      else if (event === 'failure' || event === 'timeout' || event === 'open') entry.health = 'down';
    });
    return entry;
  }

  /** Stops handing the provider out; it closes once its replies in flight are done. */
  private retire(entry: Entry): void {
    entry.stopWatching();
    if (this.options.breakers.get(entry.breaker.name) === entry.breaker) this.options.breakers.remove(entry.breaker.name);
    const provider = entry.provider;
    this.retiring.set(
      provider,
      provider.closeWhenIdle().finally(() => {
        this.retiring.delete(provider);
      }),
    );
  }

  private async probe(): Promise<OpenAICompatibleProvider | undefined> {
    const generation = this.generation;
    this.lastProbeAt = Date.now();
    const answers = await Promise.all(this.targets.map((t) => probeOpenAICompatible(t, this.probeTimeoutMs)));
    if (generation !== this.generation) return this.active?.provider;
    const index = answers.findIndex((a) => a !== undefined);
    const current = this.active;
    if (index === -1) {
      if (current !== undefined) {
        this.logger.warn({ provider: current.provider.id }, 'local model provider stopped answering');
        this.active = undefined;
        this.retire(current);
      } else if (!this.warnedNone) {
        this.logger.warn({ probed: this.targets }, 'no model provider configured and none answered locally');
      }
      this.warnedNone = true;
      return undefined;
    }
    const target = this.targets[index];
    if (target === undefined) return undefined;
    if (current?.provider.baseUrl === target) {
      current.health = 'up';
      return current.provider;
    }
    if (current !== undefined) this.retire(current);
    const entry = this.activate(target, undefined, this.config.model, 'probed', 'up');
    this.active = entry;
    this.warnedNone = false;
    this.logger.info({ provider: entry.provider.id, models: answers[index]?.length ?? 0 }, 'found a local model provider');
    return entry.provider;
  }
}

function cancelled(): ProviderError {
  return new ProviderError('cancelled', 'the request was cancelled');
}

function closedError(): ProviderError {
  return new ProviderError('provider-unavailable', 'the provider registry is closed (the server is stopping)');
}

/** Waits for a shared promise without letting one caller's cancel cancel it for the others. */
function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
