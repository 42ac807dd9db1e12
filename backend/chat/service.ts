import type { Logger } from 'pino';
import { newId } from '../data/ids.js';
import type * as wire from '../contract/conversations.js';
import type { TokenEvent } from '../contract/events.js';
import { newMessage, type Message, type MessageError, type Mutation } from '../data/store.js';
import { DomainError } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ChatTurn, ModelProvider, StreamEvent, ToolCallDelta } from '../providers/types.js';
import type { Broadcaster } from './broadcaster.js';
import type { CompletionCache } from './completions-cache.js';
import type { ConversationService } from './conversations.js';
import { assembleToolCalls, type ToolCall } from './tool-calls.js';
import { newTurnsOf, titleSourceOf } from './turns.js';
import { toWireMessage } from './wire.js';

export interface ProviderSource {
  resolve(signal?: AbortSignal): Promise<ModelProvider>;
}

/** Checks the code in a finished reply; wired to governance by the composition root. */
export interface ReplyValidator {
  /** Called when a turn starts, so slow set-up overlaps the stream instead of following it. */
  prepare?(): void;
  validate(content: string, messageId: string): Promise<unknown>;
}

interface ChatInputCommon {
  conversationId?: string | undefined;
  model?: string | undefined;
  /** Opt-in: answer from (and fill) the completion cache, keyed by model and prompt history. */
  cache?: boolean | undefined;
  /** Request fields the provider receives as given (tools, response_format, temperature …). */
  extra?: Record<string, unknown> | undefined;
}

/**
 * A turn is either one new user message, answered with the stored history as the prompt, or the
 * whole prompt as the caller sent it (what OpenAI-style clients do on every request). Then the
 * prompt goes to the provider as sent, and only the turns the conversation does not hold yet are
 * stored: its stored turns are matched as a prefix of the ones sent. System and tool turns go to
 * the provider but are not stored as messages.
 */
export type ChatInput = ChatInputCommon & ({ message: string; turns?: undefined } | { turns: ChatTurn[]; message?: undefined });

export type Transport = 'http' | 'sse' | 'socket';

export interface TurnOptions {
  transport: Transport;
  /** The direct caller's token sink (the SSE response); room members get tokens via the broadcaster. */
  onToken?: (event: TokenEvent) => void;
  /** The direct caller's sink for `tool_calls` deltas, passed on as the provider sent them. */
  onToolCalls?: (calls: ToolCallDelta[]) => void;
  /**
   * Runs once the turn is stored and before its first token is handed out, so the caller can
   * open its stream or join the conversation's room without missing token 0.
   */
  onStart?: (ids: { conversationId: string; messageId: string }) => void;
  log: Logger;
}

export interface StartedTurn {
  conversationId: string;
  messageId: string;
  /** The last user message this turn stored (none when the caller's turns held no new one). */
  userMessage: wire.Message | undefined;
  /** Settles when the assistant message is stored, whatever the outcome. Never rejects. */
  done: Promise<wire.Message>;
  /** Settles with `done`, with what the provider said about the reply beyond its text. Never rejects. */
  result: Promise<TurnResult>;
}

export interface TurnResult {
  message: wire.Message;
  /** As the provider reported it (`stop`, `length`, `tool_calls` …); null when it said nothing. */
  finishReason: string | null;
  /** The reply's tool calls, assembled from their deltas; empty when it called none. */
  toolCalls: ToolCall[];
  /** Token counts as the provider reported them; undefined when it sent none. */
  usage: { promptTokens: number; completionTokens: number } | undefined;
  /** What ended a failed reply (a ProviderError keeps the upstream status); undefined otherwise. */
  error: DomainError | undefined;
}

type StopReason = 'cancel' | 'client-gone' | 'shutdown';

interface ActiveTurn {
  controller: AbortController;
  reason: StopReason | undefined;
  done: Promise<TurnResult>;
}

const TITLE_LENGTH = 60;

const titleFrom = (text: string): string => {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > TITLE_LENGTH ? `${line.slice(0, TITLE_LENGTH - 1)}…` : line || 'New conversation';
};

/**
 * One chat service behind every transport (JSON, SSE, Socket.IO). A turn: persist the user
 * message and an assistant placeholder → stream from the provider to the caller and the
 * conversation's room → validate code in the reply → store the final assistant message →
 * broadcast → record metrics. Whatever happens midway, the reply received so far is stored.
 */
export class ChatService {
  private readonly active = new Map<string, ActiveTurn>();
  private closing = false;

  constructor(
    private readonly deps: {
      conversations: ConversationService;
      providers: ProviderSource;
      broadcaster: Broadcaster;
      metrics: Metrics;
      validator?: ReplyValidator;
      completions?: CompletionCache;
    },
  ) {}

  get activeCount(): number {
    return this.active.size;
  }

  async start(input: ChatInput, options: TurnOptions): Promise<StartedTurn> {
    if (this.closing) throw new DomainError('unavailable', 'shutting-down', 'the server is shutting down; try again in a moment');
    const accepted = performance.now();
    const { conversations, broadcaster } = this.deps;
    const existing = input.conversationId !== undefined ? await conversations.require(input.conversationId) : undefined;
    // Resolve the provider before writing anything: with no provider there is no turn to store.
    const provider = await this.deps.providers.resolve();

    const now = new Date().toISOString();
    const conversation = existing
      ? { ...existing, updatedAt: now }
      : conversations.newConversation(titleFrom(input.turns === undefined ? input.message : titleSourceOf(input.turns)), now);
    const model = input.model ?? provider.defaultModel ?? null;
    const history = existing ? await conversations.history(conversation.id) : [];
    let prompt: ChatTurn[];
    let fresh: ChatTurn[];
    if (input.turns === undefined) {
      fresh = [{ role: 'user', content: input.message }];
      prompt = [...history, ...fresh];
    } else {
      fresh = newTurnsOf(history, input.turns);
      prompt = input.turns;
    }
    const storedTurns = fresh.map((turn) =>
      newMessage({
        id: newId(),
        conversationId: conversation.id,
        role: turn.role === 'assistant' ? 'assistant' : 'user',
        content: turn.content,
        status: 'complete',
        createdAt: now,
      }),
    );
    const userMessage = storedTurns.findLast((m) => m.role === 'user');
    const assistant = newMessage({
      id: newId(),
      conversationId: conversation.id,
      role: 'assistant',
      content: '',
      status: 'streaming',
      model,
      createdAt: now,
    });
    const controller = new AbortController();
    const request = {
      model: model ?? undefined,
      messages: prompt,
      signal: controller.signal,
      ...(input.extra !== undefined ? { extra: input.extra } : {}),
    };
    const completions = input.cache === true ? this.deps.completions : undefined;
    const stream = (completions ? completions.stream(provider, request) : provider.stream(request))[Symbol.asyncIterator]();
    // Ask for the first event before writing: the provider connects and starts generating while
    // the turn is stored. No token is handed out before the write below has committed.
    const first = stream.next();
    first.catch(() => undefined);
    try {
      await conversations.write(conversation.id, [
        { kind: 'conversation.upsert', row: conversation },
        ...storedTurns.map((row): Mutation => ({ kind: 'message.upsert', row })),
        { kind: 'message.upsert', row: assistant },
      ]);
    } catch (err) {
      controller.abort();
      void stream.return?.(undefined).catch(() => undefined);
      throw err;
    }
    broadcaster.conversationUpdated({
      conversationId: conversation.id,
      reason: existing ? 'message' : 'created',
      title: conversation.title,
      updatedAt: now,
    });

    this.deps.validator?.prepare?.();
    try {
      options.onStart?.({ conversationId: conversation.id, messageId: assistant.id });
    } catch (err) {
      controller.abort();
      void stream.return?.(undefined).catch(() => undefined);
      throw err;
    }
    const placeholder: TurnResult = { message: toWireMessage(assistant), finishReason: null, toolCalls: [], usage: undefined, error: undefined };
    const turn: ActiveTurn = { controller, reason: undefined, done: Promise.resolve(placeholder) };
    this.active.set(assistant.id, turn);
    turn.done = this.run(provider, { stream, first }, assistant, turn, accepted, options).finally(() => this.active.delete(assistant.id));
    const result = turn.done;
    return {
      conversationId: conversation.id,
      messageId: assistant.id,
      userMessage: userMessage === undefined ? undefined : toWireMessage(userMessage),
      done: result.then((r) => r.message),
      result,
    };
  }

  /** Stops a streaming reply; returns false when no such reply is streaming here. */
  cancel(messageId: string, reason: StopReason = 'cancel'): boolean {
    const turn = this.active.get(messageId);
    if (!turn) return false;
    turn.reason ??= reason;
    turn.controller.abort();
    return true;
  }

  isActive(messageId: string): boolean {
    return this.active.has(messageId);
  }

  /** Ends every stream, stores what each had received, and refuses new turns. */
  async shutdown(): Promise<void> {
    this.closing = true;
    const pending = [...this.active.entries()].map(([id, turn]) => {
      this.cancel(id, 'shutdown');
      return turn.done;
    });
    await Promise.allSettled(pending);
  }

  private async run(
    provider: ModelProvider,
    source: { stream: AsyncIterator<StreamEvent>; first: Promise<IteratorResult<StreamEvent>> },
    assistant: Message,
    turn: ActiveTurn,
    accepted: number,
    options: TurnOptions,
  ): Promise<TurnResult> {
    const { broadcaster, metrics } = this.deps;
    const parts: string[] = [];
    let seq = 0;
    let firstTokenAt: number | undefined;
    let usage: { promptTokens: number; completionTokens: number } | undefined;
    let finishReason: string | null = null;
    const toolCallDeltas: ToolCallDelta[] = [];
    let failure: MessageError | undefined;
    let thrown: DomainError | undefined;
    try {
      for (let next = source.first; ; next = source.stream.next()) {
        const result = await next;
        if (result.done === true) break;
        const event = result.value;
        if (event.type !== 'delta') {
          if (event.type === 'usage') usage = { promptTokens: event.promptTokens, completionTokens: event.completionTokens };
          else if (event.type === 'finish') finishReason = event.reason;
          else {
            if (firstTokenAt === undefined) {
              firstTokenAt = performance.now();
              metrics.chatTtft.observe((firstTokenAt - accepted) / 1000);
            }
            for (const call of event.calls) toolCallDeltas.push(call);
            options.onToolCalls?.(event.calls);
          }
          continue;
        }
        if (event.text.length === 0) continue;
        if (firstTokenAt === undefined) {
          firstTokenAt = performance.now();
          metrics.chatTtft.observe((firstTokenAt - accepted) / 1000);
        }
        parts.push(event.text);
        const token: TokenEvent = {
          conversationId: assistant.conversationId,
          messageId: assistant.id,
          seq: seq++,
          delta: event.text,
        };
        options.onToken?.(token);
        broadcaster.token(token);
      }
      if (turn.reason !== undefined) throw new DomainError('cancelled', 'cancelled', 'the reply was cancelled');
    } catch (err) {
      // Release the upstream request if the loop ended for any reason other than the stream's own.
      void source.stream.return?.(undefined).catch(() => undefined);
      if (err instanceof DomainError) thrown = err;
      const code = err instanceof DomainError ? err.code : 'internal-error';
      const message = err instanceof Error ? err.message : String(err);
      failure = { code, message };
      if (turn.reason === undefined && code !== 'cancelled') {
        metrics.providerErrors.inc({ provider: provider.id, code });
        options.log.warn({ err: message, code, messageId: assistant.id, provider: provider.id }, 'model stream failed');
      }
    }

    const finishedAt = performance.now();
    const content = parts.join('');
    const status: Message['status'] =
      failure === undefined
        ? 'complete'
        : turn.reason === 'shutdown'
          ? 'interrupted'
          : turn.reason !== undefined || failure.code === 'cancelled'
            ? 'cancelled'
            : 'error';

    let validation: unknown = null;
    if (content.length > 0 && this.deps.validator) {
      try {
        validation = await this.deps.validator.validate(content, assistant.id);
      } catch (err) {
        options.log.warn({ err: (err as Error).message, messageId: assistant.id }, 'reply validation failed');
      }
    }

    const final: Message = {
      ...assistant,
      content,
      status,
      promptTokens: usage?.promptTokens ?? null,
      completionTokens: usage?.completionTokens ?? (seq > 0 ? seq : null),
      ttftMs: firstTokenAt === undefined ? null : round(firstTokenAt - accepted),
      durationMs: round(finishedAt - accepted),
      validation,
      error: status === 'error' ? (failure ?? null) : null,
      updatedAt: new Date().toISOString(),
    };
    const mutations: Mutation[] = [{ kind: 'message.upsert', row: final }];
    try {
      await this.deps.conversations.write(final.conversationId, mutations);
    } catch (err) {
      // The placeholder row stays `streaming`, so the next start marks it interrupted.
      options.log.error({ err: (err as Error).message, messageId: final.id }, 'could not store the reply');
    }

    const seconds = (finishedAt - (firstTokenAt ?? finishedAt)) / 1000;
    if (status === 'complete' && seq > 0 && seconds > 0) metrics.chatTokensPerSecond.observe(seq / seconds);
    metrics.chatTokens.inc(seq);
    metrics.chatRequests.inc({ outcome: status, transport: options.transport });

    const sent = toWireMessage(final);
    if (status === 'error' && failure) {
      broadcaster.error({ conversationId: final.conversationId, messageId: final.id, code: failure.code, message: failure.message });
    } else {
      broadcaster.done({ conversationId: final.conversationId, message: sent });
    }
    broadcaster.conversationUpdated({ conversationId: final.conversationId, reason: 'message', updatedAt: final.updatedAt });
    options.log.info(
      { messageId: final.id, conversationId: final.conversationId, status, tokens: seq, ttftMs: final.ttftMs, durationMs: final.durationMs },
      'chat turn finished',
    );
    return {
      message: sent,
      finishReason: status === 'complete' ? finishReason : null,
      toolCalls: assembleToolCalls(toolCallDeltas),
      usage,
      error: status === 'error' ? (thrown ?? new DomainError('internal', 'internal-error', final.error?.message ?? 'the reply failed')) : undefined,
    };
  }
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
