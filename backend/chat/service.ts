import type { LeveledLog } from '../logging/logger.js';
import { newId } from '../data/ids.js';
import type * as wire from '../contract/conversations.js';
import type { TokenEvent } from '../contract/events.js';
import { newMessage, type Conversation, type Message, type MessageError, type Mutation } from '../data/store.js';
import { DomainError, invalid, notFound } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ChatTurn, ModelProvider, StreamEvent, ToolCallDelta } from '../providers/types.js';
import { ActiveTurns } from './active-turns.js';
import { activeLeaf, pathTo, promptOf } from './branches.js';
import type { Broadcaster } from './broadcaster.js';
import type { CompletionCache } from './completions-cache.js';
import type { ConversationService } from './conversations.js';
import { assembleToolCalls, type ToolCall } from './tool-calls.js';
import { newTurnsOf, titleSourceOf } from './turns.js';
import { toWireMessage } from './wire.js';
import { Cancellation } from '../providers/cancellation.js';

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
  /**
   * Where the new turn goes in the conversation's tree: absent continues from the active leaf, a
   * message id starts a new branch after that message, null starts a new branch at the root.
   */
  parentId?: string | null | undefined;
}

/** A reply in progress on this instance: its text so far, up to and including token `seq`. */
export interface ReplySnapshot {
  conversationId: string;
  messageId: string;
  seq: number;
  content: string;
  /** Where each token ends in `content`. */
  ends: number[];
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
  /**
   * When it aborts, the reply is cancelled (reason client-gone). For callers whose client owns the
   * reply; /api/chat and Socket.IO leave it out: their replies outlive their viewers, who can
   * resume them.
   */
  signal?: AbortSignal | undefined;
  /** Where the turn's own lines go: a logger, or one made on first use (deferredRequestLog). */
  log: LeveledLog;
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
  controller: Cancellation;
  reason: StopReason | undefined;
  done: Promise<TurnResult>;
  conversationId: string;
  parts: string[];
  ends: number[];
}

/** How often a streaming reply's text so far is written to the store, for viewers on any instance. */
export const PROGRESS_INTERVAL_MS = 250;

/** What a turn writes and sends: everything decided before the provider is asked. */
interface TurnPlan {
  conversation: Conversation;
  existing: boolean;
  /** Messages stored before the reply (the new user turn, or every new turn a client resent). */
  stored: Message[];
  assistant: Message;
  prompt: ChatTurn[];
  /** Whether the conversation's system prompt goes first (not when the caller sent the whole prompt). */
  systemPrompt: boolean;
  extra?: Record<string, unknown> | undefined;
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
  /** Not a Map, for the garbage collector's sake (active-turns.ts). */
  private readonly active = new ActiveTurns<ActiveTurn>();
  private closing = false;

  constructor(
    private readonly deps: {
      conversations: ConversationService;
      providers: ProviderSource;
      broadcaster: Broadcaster;
      metrics: Metrics;
      validator?: ReplyValidator;
      completions?: CompletionCache;
      /** How often a streaming reply's progress is stored (default PROGRESS_INTERVAL_MS). */
      progressIntervalMs?: number;
    },
  ) {}

  get activeCount(): number {
    return this.active.size;
  }

  async start(input: ChatInput, options: TurnOptions): Promise<StartedTurn> {
    if (this.closing) throw new DomainError('unavailable', 'shutting-down', 'the server is shutting down; try again in a moment');
    const accepted = performance.now();
    const { conversations } = this.deps;
    const existing = input.conversationId !== undefined ? await conversations.require(input.conversationId) : undefined;
    // Resolve the provider before writing anything: with no provider there is no turn to store.
    const provider = await this.deps.providers.resolve();
    const now = new Date().toISOString();
    const conversation = existing
      ? { ...existing, updatedAt: now }
      : conversations.newConversation(titleFrom(input.turns === undefined ? input.message : titleSourceOf(input.turns)), now);
    const messages = existing ? await conversations.messages(conversation.id) : [];
    let parentId: string | null;
    if (input.parentId === undefined) parentId = activeLeaf(messages, conversation.activeLeafId);
    else if (input.parentId === null) parentId = null;
    else {
      if (!messages.some((m) => m.id === input.parentId)) throw notFound('message', `${input.parentId} in this conversation`);
      parentId = input.parentId;
    }
    const history = promptOf(pathTo(messages, parentId));
    // One new user message, or the turns of a resent history the branch does not hold yet.
    const fresh: ChatTurn[] = input.turns === undefined ? [{ role: 'user', content: input.message }] : newTurnsOf(history, input.turns);
    const stored: Message[] = [];
    for (const turn of fresh) {
      const row = newMessage({
        id: newId(),
        conversationId: conversation.id,
        role: turn.role === 'assistant' ? 'assistant' : 'user',
        content: turn.content,
        status: 'complete',
        createdAt: now,
        parentId,
      });
      stored.push(row);
      parentId = row.id;
    }
    const model = input.model ?? conversation.model ?? provider.defaultModel ?? null;
    const assistant = this.placeholder(conversation.id, parentId, now, model);
    const prompt = input.turns === undefined ? [...history, ...fresh] : input.turns;
    const plan: TurnPlan = { conversation, existing: existing !== undefined, stored, assistant, prompt, systemPrompt: input.turns === undefined, extra: input.extra };
    return this.begin(provider, plan, input.cache === true, accepted, options);
  }

  /**
   * A new assistant reply beside `messageId` (same parent, same history), answered like a turn.
   * The StartedTurn's userMessage is the message the reply answers.
   */
  async regenerate(messageId: string, options: TurnOptions & { model?: string | undefined }): Promise<StartedTurn> {
    if (this.closing) throw new DomainError('unavailable', 'shutting-down', 'the server is shutting down; try again in a moment');
    const accepted = performance.now();
    const { conversations } = this.deps;
    const target = await conversations.message(messageId);
    if (!target) throw notFound('message', messageId);
    if (target.role !== 'assistant') {
      throw invalid('only an assistant reply can be regenerated; to change a user message, send it again with its parentId', { field: 'messageId' });
    }
    const existing = await conversations.require(target.conversationId);
    const provider = await this.deps.providers.resolve();
    const messages = await conversations.messages(existing.id);
    const path = pathTo(messages, target.parentId ?? null);
    const answered = path[path.length - 1];
    const now = new Date().toISOString();
    const assistant = this.placeholder(existing.id, target.parentId ?? null, now, options.model ?? existing.model ?? provider.defaultModel ?? null);
    const plan: TurnPlan = { conversation: { ...existing, updatedAt: now }, existing: true, stored: [], assistant, prompt: promptOf(path), systemPrompt: true };
    const started = await this.begin(provider, plan, false, accepted, options);
    return { ...started, userMessage: toWireMessage(answered ?? target) };
  }

  private placeholder(conversationId: string, parentId: string | null, now: string, model: string | null): Message {
    return newMessage({ id: newId(), conversationId, role: 'assistant', content: '', status: 'streaming', model, createdAt: now, parentId });
  }

  private async begin(provider: ModelProvider, plan: TurnPlan, useCache: boolean, accepted: number, options: TurnOptions): Promise<StartedTurn> {
    const { conversations, broadcaster } = this.deps;
    const { conversation, assistant, stored } = plan;
    conversation.activeLeafId = assistant.id;
    const prompt: ChatTurn[] =
      plan.systemPrompt && conversation.systemPrompt ? [{ role: 'system', content: conversation.systemPrompt }, ...plan.prompt] : plan.prompt;
    const controller = new Cancellation();
    const request = {
      model: assistant.model ?? undefined,
      messages: prompt,
      signal: controller,
      ...(plan.extra !== undefined ? { extra: plan.extra } : {}),
    };
    const completions = useCache ? this.deps.completions : undefined;
    const stream = (completions ? completions.stream(provider, request) : provider.stream(request))[Symbol.asyncIterator]();
    // Ask for the first event before writing: the provider connects and starts generating while
    // the turn is stored. No token is handed out before the write below has committed.
    const first = stream.next();
    first.catch(() => undefined);
    const mutations: Mutation[] = [
      // A turn on an existing conversation changes only which branch it shows.
      plan.existing ? { kind: 'conversation.upsert', row: conversation, fields: ['activeLeafId'] } : { kind: 'conversation.upsert', row: conversation },
      ...stored.map((row): Mutation => ({ kind: 'message.upsert', row })),
      { kind: 'message.upsert', row: assistant },
    ];
    try {
      await conversations.write(conversation.id, mutations);
    } catch (err) {
      controller.abort();
      void stream.return?.(undefined).catch(() => undefined);
      throw err;
    }
    broadcaster.conversationUpdated({
      conversationId: conversation.id,
      reason: plan.existing ? 'message' : 'created',
      title: conversation.title,
      updatedAt: conversation.updatedAt,
    });

    this.deps.validator?.prepare?.();
    try {
      options.onStart?.({ conversationId: conversation.id, messageId: assistant.id });
    } catch (err) {
      controller.abort();
      void stream.return?.(undefined).catch(() => undefined);
      throw err;
    }
    // Every viewer of the conversation sees each turn, whichever client started it.
    for (const row of stored) broadcaster.messageCreated({ conversationId: conversation.id, message: toWireMessage(row) });
    broadcaster.messageCreated({ conversationId: conversation.id, message: toWireMessage(assistant) });
    const placeholder: TurnResult = { message: toWireMessage(assistant), finishReason: null, toolCalls: [], usage: undefined, error: undefined };
    const turn: ActiveTurn = { controller, reason: undefined, done: Promise.resolve(placeholder), conversationId: conversation.id, parts: [], ends: [] };
    this.active.set(assistant.id, turn);
    const signal = options.signal;
    const onAbort = (): void => void this.cancel(assistant.id, 'client-gone');
    if (signal) {
      if (signal.aborted) queueMicrotask(onAbort);
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    turn.done = this.run(provider, { stream, first }, assistant, turn, accepted, options).finally(() => {
      signal?.removeEventListener('abort', onAbort);
      this.active.delete(assistant.id);
    });
    const result = turn.done;
    const userMessage = stored.findLast((m) => m.role === 'user');
    return {
      conversationId: conversation.id,
      messageId: assistant.id,
      userMessage: userMessage === undefined ? undefined : toWireMessage(userMessage),
      done: result.then((r) => r.message),
      result,
    };
  }

  /** The text so far of a reply streaming on this instance, or undefined. */
  snapshot(messageId: string): ReplySnapshot | undefined {
    const turn = this.active.get(messageId);
    if (!turn) return undefined;
    return { conversationId: turn.conversationId, messageId, seq: turn.ends.length - 1, content: textSoFar(turn), ends: [...turn.ends] };
  }

  /** Replies of a conversation streaming on this instance. */
  streamingIn(conversationId: string): ReplySnapshot[] {
    const out: ReplySnapshot[] = [];
    for (const [id, turn] of this.active) {
      if (turn.conversationId !== conversationId) continue;
      const snap = this.snapshot(id);
      if (snap) out.push(snap);
    }
    return out;
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

  /**
   * Writes a streaming reply's text so far (and its token boundaries) to the store at most every
   * progressIntervalMs, so a viewer joining on any instance finds it there. A write is never
   * started while one is in flight, and stop() waits for the last one, so the final write wins.
   */
  private progressWriter(assistant: Message, turn: ActiveTurn, log: LeveledLog): { dirty(): void; stop(): Promise<void> } {
    const interval = this.deps.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
    let timer: NodeJS.Timeout | undefined;
    let writing: Promise<void> | undefined;
    let written = -1;
    let stopped = false;
    const flush = (): void => {
      timer = undefined;
      if (stopped || writing) return;
      const seq = turn.ends.length - 1;
      if (seq === written) return;
      const row: Message = {
        ...assistant,
        content: textSoFar(turn),
        progress: { seq, ends: [...turn.ends] },
        updatedAt: new Date().toISOString(),
      };
      writing = this.deps.conversations
        .write(assistant.conversationId, [{ kind: 'message.upsert', row }], { listChanged: false })
        .then(
          () => {
            written = seq;
          },
          (err: unknown) => log.warn({ err: (err as Error).message, messageId: assistant.id }, 'could not store reply progress'),
        )
        .finally(() => {
          writing = undefined;
          if (!stopped && turn.ends.length - 1 !== written) timer ??= setTimeout(flush, interval);
        });
    };
    return {
      dirty: () => {
        if (timer === undefined && writing === undefined && !stopped) timer = setTimeout(flush, interval);
      },
      stop: async () => {
        stopped = true;
        clearTimeout(timer);
        await writing;
      },
    };
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
    const { parts, ends } = turn;
    let seq = 0;
    let length = 0;
    const progress = this.progressWriter(assistant, turn, options.log);
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
        length += event.text.length;
        ends.push(length);
        progress.dirty();
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

    await progress.stop();
    const finishedAt = performance.now();
    const content = textSoFar(turn);
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
      // The conversation row (what the lists show) was written when the turn began; this changes
      // only the reply, so the cached lists stay.
      await this.deps.conversations.write(final.conversationId, mutations, { listChanged: false });
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
    // A complete turn already has its request line (status and time) at info, and its figures in
    // the metrics: its own line is for debugging. A turn that did not complete is worth a line.
    const turnLevel = status === 'complete' ? 'debug' : 'info';
    if (options.log.isLevelEnabled(turnLevel)) {
      options.log[turnLevel](
        { messageId: final.id, conversationId: final.conversationId, status, tokens: seq, ttftMs: final.ttftMs, durationMs: final.durationMs },
        'chat turn finished',
      );
    }
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

/**
 * A streaming reply's text so far. The tokens are joined into one string that replaces them, so
 * a long reply holds one flat string (and its next join starts from it) instead of thousands of
 * small ones, each with its own object header.
 */
function textSoFar(turn: ActiveTurn): string {
  const { parts } = turn;
  if (parts.length === 1) return parts[0] as string;
  const text = parts.join('');
  parts.length = 0;
  parts.push(text);
  return text;
}
