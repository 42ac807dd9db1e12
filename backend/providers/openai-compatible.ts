import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Dispatcher, Pool } from 'undici';
import { z } from 'zod';
import type { Breaker } from '../breaker/breaker.js';
import { isProviderFailure, ProviderError, toProviderError, type ProviderPhase } from './errors.js';
import { parseProviderUrl } from './provider-url.js';
import { SseParser } from './sse.js';
import { UpstreamCall, type UpstreamHead } from './upstream-call.js';
import type { CancelSignal, ChatTurn, CompletionRequest, ModelProvider, StreamEvent } from './types.js';

/**
 * The OpenAI chat-completions wire protocol over HTTP streaming (SSE). It covers OpenAI itself,
 * Ollama, LM Studio, llama.cpp server, vLLM and OpenRouter.
 */

export interface OpenAICompatibleOptions {
  baseUrl: string;
  apiKey?: string | undefined;
  model?: string | undefined;
  /** TCP (+TLS) connect limit. Default 5 s. */
  connectTimeoutMs?: number;
  /** No bytes for this long once the reply started: `provider-timeout`. Default 30 s. */
  idleTimeoutMs?: number;
  /**
   * Limit on waiting for the response headers. Local servers often send them only after loading
   * the model and reading the prompt, which takes far longer than a gap between tokens.
   * Default 120 s.
   */
  headersTimeoutMs?: number;
  breaker: Breaker;
}

type ResponseBody = Dispatcher.ResponseData['body'];

const ERROR_BODY_LIMIT = 64 * 1024;
const JSON_REPLY_LIMIT = 16 * 1024 * 1024;
/** What may follow `[DONE]` (the chunked terminator) and how long it may take. */
const TAIL_LIMIT = 64 * 1024;
const TAIL_TIMEOUT_MS = 2_000;

// undici is a large module graph; it is loaded when the first request is made, not at start-up.
const requireModule = createRequire(import.meta.url);
const undici = (): typeof import('undici') => requireModule('undici') as typeof import('undici');

const modelList = z.object({ data: z.array(z.object({ id: z.string() })) });

export class OpenAICompatibleProvider implements ModelProvider {
  readonly id: string;
  readonly baseUrl: string;
  readonly defaultModel: string | undefined;
  private readonly breaker: Breaker;
  private poolInstance: Pool | undefined;
  private readonly poolOptions: { origin: string; options: Pool.Options };
  private readonly chatPath: string;
  private readonly modelsPath: string;
  private readonly streamHeaders: Record<string, string>;
  private readonly plainHeaders: Record<string, string>;
  private listedModel: string | undefined;
  private closed = false;
  private draining: Promise<void> | undefined;
  private destroying: Promise<void> | undefined;

  constructor(options: OpenAICompatibleOptions) {
    const url = parseProviderUrl(options.baseUrl);
    this.baseUrl = url.baseUrl;
    this.id = `openai-compatible:${url.baseUrl}`;
    this.defaultModel = options.model !== undefined && options.model !== '' ? options.model : undefined;
    this.breaker = options.breaker;
    this.chatPath = `${url.basePath}/chat/completions`;
    this.modelsPath = `${url.basePath}/models`;
    const idle = options.idleTimeoutMs ?? 30_000;
    this.poolOptions = {
      origin: url.origin,
      options: { connect: { timeout: options.connectTimeoutMs ?? 5_000 }, headersTimeout: options.headersTimeoutMs ?? 120_000, bodyTimeout: idle },
    };
    const auth: Record<string, string> =
      options.apiKey !== undefined && options.apiKey !== '' ? { authorization: `Bearer ${options.apiKey}` } : {};
    this.plainHeaders = { accept: 'application/json', ...auth };
    this.streamHeaders = { 'content-type': 'application/json', accept: 'text/event-stream', ...auth };
  }

  async listModels(signal?: CancelSignal): Promise<string[]> {
    const ctx = this.context('connect', signal);
    if (signal?.aborted === true) throw toProviderError(signal.reason, ctx);
    this.assertOpen();
    const upstream = new UpstreamAbort(signal);
    try {
      return await this.guarded(ctx, upstream, async () => {
        const res = await this.pool.request({
          method: 'GET',
          path: this.modelsPath,
          headers: this.plainHeaders,
          signal: upstream,
        });
        if (res.statusCode < 200 || res.statusCode >= 300) {
          // The status alone is enough to report when the body cannot be read.
          throw this.upstreamError(res, await readText(res.body, ERROR_BODY_LIMIT).catch(() => ''));
        }
        const text = await readText(res.body, JSON_REPLY_LIMIT);
        const json = parseJson(text);
        if (json === UNREADABLE) throw unreadable(this.id, `${this.baseUrl}/models`, text, res.statusCode);
        const parsed = modelList.safeParse(json);
        if (!parsed.success) {
          throw new ProviderError('provider-error', `${this.baseUrl}/models did not answer with an OpenAI model list`, {
            provider: this.id,
            status: res.statusCode,
          });
        }
        return parsed.data.data.map((m) => m.id);
      });
    } finally {
      upstream.unlink();
    }
  }

  stream(req: CompletionRequest): AsyncIterable<StreamEvent> {
    return this.streamCompletion(req);
  }

  private get pool(): Pool {
    this.poolInstance ??= new (undici().Pool)(this.poolOptions.origin, this.poolOptions.options);
    return this.poolInstance;
  }

  /** Cuts everything in flight and releases the pool. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    this.destroying ??= this.poolInstance ? this.poolInstance.destroy().catch(() => undefined) : Promise.resolve();
    return this.destroying;
  }

  /** Refuses new calls and releases the pool once the streams in flight have finished. */
  closeWhenIdle(): Promise<void> {
    this.closed = true;
    if (this.destroying !== undefined) return this.destroying;
    this.draining ??= this.poolInstance ? this.poolInstance.close().catch(() => undefined) : Promise.resolve();
    return this.draining;
  }

  private async *streamCompletion(req: CompletionRequest): AsyncGenerator<StreamEvent, void, undefined> {
    const { signal } = req;
    const ctx = this.context('connect', signal);
    if (signal.aborted) throw toProviderError(signal.reason, ctx);
    this.assertOpen();
    const model = req.model ?? this.defaultModel ?? (await this.firstListedModel(signal));
    const payload = JSON.stringify({
      ...req.extra,
      model,
      messages: wireMessages(req.messages),
      ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
      // Always streamed with usage, whatever the caller asked: the service shapes its own answer.
      stream: true,
      stream_options: { include_usage: true },
    });

    const upstream = new UpstreamAbort(signal);
    const call = new UpstreamCall(upstream);
    let complete = false;
    try {
      const head = await this.guarded(ctx, upstream, async () => {
        this.pool.dispatch({ method: 'POST', path: this.chatPath, headers: this.streamHeaders, body: payload }, call);
        const h = await call.head;
        if (h.statusCode < 200 || h.statusCode >= 300) throw this.upstreamError(h, await call.text(ERROR_BODY_LIMIT).catch(() => ''));
        return h;
      });
      ctx.phase = 'stream';
      const reader = new ChunkReader(this.id, this.baseUrl);
      try {
        const contentType = head.headers['content-type'];
        if (typeof contentType === 'string' && contentType.includes('application/json')) {
          // A server that ignored `stream: true` and sent the whole completion at once.
          const text = await call.text(JSON_REPLY_LIMIT);
          const reply = parseJson(text);
          if (reply === UNREADABLE) throw unreadable(this.id, `the reply of ${this.baseUrl}`, text);
          reader.readCompletion(reply);
          reader.done = true;
        } else {
          // Each piece of the body is parsed as it arrives; its events wait in the reader.
          const parser = new SseParser(reader.onEvent);
          let parseFailure: { error: unknown } | undefined;
          call.consume((chunk) => {
            if (parseFailure !== undefined || reader.done) return;
            try {
              parser.push(chunk);
            } catch (error) {
              // What the chunk held before the bad event is delivered, then the stream fails.
              parseFailure = { error };
            }
          });
          for (;;) {
            const events = reader.take();
            if (events.length > 0) {
              call.caughtUp();
              for (const event of events) yield event;
              continue;
            }
            if (parseFailure !== undefined) throw parseFailure.error;
            if (reader.done) break;
            if (call.failure !== undefined) throw call.failure;
            if (call.ended) {
              parser.flush();
              break;
            }
            await call.next();
          }
        }
      } catch (err) {
        // After [DONE] the reply is whole; what happens to the connection no longer matters.
        if (!reader.done) throw this.midStreamFailure(err, ctx);
      }
      const rest = reader.take();
      for (const event of rest) yield event;
      // Older llama.cpp builds end with a finish_reason but no [DONE]; a clean end after one is whole.
      if (!reader.done && reader.finishReason === null) {
        throw this.midStreamFailure(
          new ProviderError('provider-disconnected', `${this.baseUrl} ended the reply without finishing it`, {
            provider: this.id,
          }),
          ctx,
        );
      }
      complete = true;
      if (reader.finishReason !== null) yield { type: 'finish', reason: reader.finishReason };
      if (reader.usage !== undefined) yield reader.usage;
    } finally {
      upstream.unlink();
      if (!complete) {
        // An error, a cancel, or a consumer that stopped iterating: stop the upstream now.
        upstream.abort();
      } else {
        call.dropRest(TAIL_LIMIT, TAIL_TIMEOUT_MS);
      }
    }
  }

  private midStreamFailure(err: unknown, ctx: ErrorContext): ProviderError {
    if (this.closed && ctx.signal?.aborted !== true) {
      // We cut it ourselves; the provider did nothing wrong.
      return new ProviderError(
        'provider-disconnected',
        `the reply from ${this.baseUrl} was cut because the provider was closed (reconfigured or server stopping)`,
        { provider: this.id },
        err,
      );
    }
    const error = toProviderError(err, ctx);
    if (isProviderFailure(error)) this.breaker.reportFailure(error);
    return error;
  }

  /**
   * Runs one call (up to the response headers) through the breaker. Only errors that say the
   * provider is unhealthy reach the breaker as failures; a cancel or a 4xx passes through it as a
   * completed call, whatever the breaker's own filter says.
   */
  private async guarded<T>(ctx: ErrorContext, upstream: UpstreamAbort, call: () => Promise<T>): Promise<T> {
    let outcome: { ok: true; value: T } | { ok: false; error: ProviderError };
    try {
      outcome = await this.breaker.run(async () => {
        try {
          return { ok: true as const, value: await call() };
        } catch (err) {
          const error = toProviderError(err, ctx);
          if (isProviderFailure(error)) throw error;
          return { ok: false as const, error };
        }
      });
    } catch (err) {
      // A breaker timeout leaves the attempt running; nobody will read its answer.
      upstream.abort();
      throw toProviderError(err, ctx);
    }
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  private async firstListedModel(signal: CancelSignal): Promise<string> {
    if (this.listedModel !== undefined) return this.listedModel;
    const models = await this.listModels(signal);
    const first = models[0];
    if (first === undefined) {
      throw new ProviderError(
        'provider-error',
        `${this.baseUrl} lists no models; load or pull one, or set LLM_MODEL`,
        { provider: this.id },
      );
    }
    this.listedModel = first;
    return first;
  }

  /** A non-2xx answer, with the message its body gave (up to ERROR_BODY_LIMIT bytes of it). */
  private upstreamError(head: UpstreamHead, text: string): ProviderError {
    const { message, code } = upstreamMessage(text, head.statusText);
    const retryAfter = head.headers['retry-after'];
    return new ProviderError('provider-error', `${this.baseUrl} answered ${head.statusCode}: ${message}`, {
      provider: this.id,
      status: head.statusCode,
      message,
      ...(code !== undefined ? { upstreamCode: code } : {}),
      ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
    });
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new ProviderError('provider-unavailable', `${this.baseUrl} was closed (the provider was reconfigured or the server is stopping)`, {
        provider: this.id,
      });
    }
  }

  private context(phase: ProviderPhase, signal: CancelSignal | undefined): ErrorContext {
    return { provider: this.id, baseUrl: this.baseUrl, phase, signal };
  }
}

interface ErrorContext {
  provider: string;
  baseUrl: string;
  phase: ProviderPhase;
  signal: CancelSignal | undefined;
}

/** Turns the parsed SSE events of one completion into StreamEvents. */
class ChunkReader {
  /** Events parsed and not yet taken by the stream. */
  private queue: StreamEvent[] = [];
  done = false;
  finishReason: string | null = null;
  usage: StreamEvent | undefined;

  constructor(
    private readonly provider: string,
    private readonly baseUrl: string,
  ) {}

  readonly onEvent = (data: string, event: string): void => {
    if (this.done) return;
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    const chunk = parseJson(data);
    if (chunk === UNREADABLE) throw unreadable(this.provider, `an event from ${this.baseUrl}`, data);
    if (!isRecord(chunk)) return;
    if (event === 'error' || (chunk.error !== undefined && chunk.error !== null)) {
      throw this.streamedError(chunk.error ?? chunk);
    }
    const choices = chunk.choices;
    if (Array.isArray(choices) && choices.length > 0) {
      const choice: unknown = choices[0];
      if (isRecord(choice)) {
        const delta = choice.delta;
        if (isRecord(delta)) {
          const content = delta.content;
          if (typeof content === 'string' && content.length > 0) this.pushDelta(content);
          const calls = delta.tool_calls;
          if (Array.isArray(calls) && calls.length > 0) this.queue.push({ type: 'tool-calls', calls: calls.filter(isRecord) });
        }
        const finish = choice.finish_reason;
        if (typeof finish === 'string') this.finishReason = finish;
      }
    }
    this.readUsage(chunk.usage);
  };

  /** The events parsed since the last call, in order; later ones go into a new list. */
  take(): StreamEvent[] {
    const events = this.queue;
    if (events.length > 0) this.queue = [];
    return events;
  }

  readCompletion(reply: unknown): void {
    if (!isRecord(reply)) return;
    if (reply.error !== undefined && reply.error !== null) throw this.streamedError(reply.error);
    const choices = reply.choices;
    if (Array.isArray(choices)) {
      const choice: unknown = choices[0];
      if (isRecord(choice) && isRecord(choice.message)) {
        const content = choice.message.content;
        if (typeof content === 'string' && content.length > 0) this.queue.push({ type: 'delta', text: content });
        const calls = choice.message.tool_calls;
        if (Array.isArray(calls) && calls.length > 0) {
          // Whole calls, each made the one delta of its index, as a stream would have sent it.
          this.queue.push({ type: 'tool-calls', calls: calls.filter(isRecord).map((call, index) => ({ index, ...call })) });
        }
        if (typeof choice.finish_reason === 'string') this.finishReason = choice.finish_reason;
      }
    }
    this.readUsage(reply.usage);
  }

  /**
   * Deltas that arrived in the same network read become one: when the provider is faster than
   * we are, each read carries several, and handing them on one by one would cost a generator
   * step, a stored part and an SSE/Socket.IO frame each. When we keep up, a read carries one
   * delta and nothing changes, so this never delays a token.
   */
  private pushDelta(text: string): void {
    const last = this.queue[this.queue.length - 1];
    if (last !== undefined && last.type === 'delta') this.queue[this.queue.length - 1] = { type: 'delta', text: last.text + text };
    else this.queue.push({ type: 'delta', text });
  }

  private readUsage(usage: unknown): void {
    if (!isRecord(usage)) return;
    const prompt = usage.prompt_tokens;
    const completion = usage.completion_tokens;
    if (typeof prompt === 'number' && typeof completion === 'number') {
      this.usage = { type: 'usage', promptTokens: prompt, completionTokens: completion };
    }
  }

  private streamedError(error: unknown): ProviderError {
    const { message, code, status } = describeUpstreamError(error);
    return new ProviderError('provider-error', `${this.baseUrl} reported an error mid-reply: ${message}`, {
      provider: this.provider,
      message,
      ...(status !== undefined ? { status } : {}),
      ...(code !== undefined ? { upstreamCode: code } : {}),
    });
  }
}

/** The messages as the wire carries them: a turn's own wire fields go along unchanged. */
function wireMessages(turns: ChatTurn[]): unknown[] {
  // The common case (plain text turns) is sent as it is, without copying.
  if (!turns.some((t) => t.wire !== undefined)) return turns;
  return turns.map((t) => (t.wire === undefined ? { role: t.role, content: t.content } : { role: t.role, content: t.content, ...t.wire }));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

const UNREADABLE: unique symbol = Symbol('unreadable');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return UNREADABLE;
  }
}

function unreadable(provider: string, what: string, text: string, status?: number): ProviderError {
  return new ProviderError('provider-error', `${what} is not valid JSON`, {
    provider,
    message: text.slice(0, 200),
    ...(status !== undefined ? { status } : {}),
  });
}

/** Reads at most `limit` bytes of a body as UTF-8 (the rest is discarded with the socket). */
async function readText(body: ResponseBody, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    parts.push(chunk);
    size += chunk.length;
    if (size >= limit) break;
  }
  return Buffer.concat(parts, size).toString('utf8', 0, Math.min(size, limit));
}

function describeUpstreamError(error: unknown): { message: string; code: string | undefined; status: number | undefined } {
  if (typeof error === 'string') return { message: error, code: undefined, status: undefined };
  if (isRecord(error)) {
    const message =
      typeof error.message === 'string'
        ? error.message
        : typeof error.detail === 'string'
          ? error.detail
          : JSON.stringify(error).slice(0, 500);
    const rawCode = error.code ?? error.type;
    const code = typeof rawCode === 'string' ? rawCode : typeof rawCode === 'number' ? String(rawCode) : undefined;
    const status = typeof error.status === 'number' ? error.status : typeof error.code === 'number' ? error.code : undefined;
    return { message, code, status };
  }
  return { message: String(error), code: undefined, status: undefined };
}

/** The message in an error body: OpenAI `{error:{message}}`, Ollama `{error:"..."}`, or text. */
function upstreamMessage(text: string, statusText: string): { message: string; code: string | undefined } {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const body = JSON.parse(trimmed) as unknown;
      if (isRecord(body)) {
        const { message, code } = describeUpstreamError(body.error ?? body);
        return { message, code };
      }
    } catch {
      // Not JSON after all; fall through to the text.
    }
  }
  if (trimmed !== '') return { message: trimmed.slice(0, 500), code: undefined };
  return { message: statusText !== '' ? statusText : 'no message', code: undefined };
}

/**
 * What aborts one upstream request (undici watches it for a model list, UpstreamCall for a
 * completion): it fires when the caller's signal does (with the caller's reason) or when the
 * provider gives the request up itself (a breaker timeout, a stream that ended early). An
 * EventEmitter is far cheaper per chat turn than an AbortController, whose signal is an EventTarget.
 */
class UpstreamAbort extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;
  private readonly onCallerAbort: (() => void) | undefined;

  constructor(private readonly caller: CancelSignal | undefined) {
    super();
    if (caller !== undefined) {
      this.onCallerAbort = (): void => this.abort(caller.reason);
      // A signal aborts once; unlink() removes the listener, so `once` would only add a wrapper.
      caller.addEventListener('abort', this.onCallerAbort);
    }
  }

  /** Without a reason, the same AbortError an AbortController's abort() gives. */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }

  unlink(): void {
    if (this.onCallerAbort !== undefined) this.caller?.removeEventListener('abort', this.onCallerAbort);
  }
}
