/** The provider interface the chat service talks to; one implementation per wire protocol. */

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant' | 'tool';
  /** The turn's text: what is stored and shown. */
  content: string;
  /**
   * Other fields of the message as the caller sent them on the OpenAI wire (`tool_calls`,
   * `tool_call_id`, `name`, structured `content` parts …). The provider sends them unchanged,
   * so a client that speaks the protocol loses nothing by going through Orchestra.
   */
  wire?: Record<string, unknown>;
}

/**
 * What a provider watches to stop a call early. An AbortSignal is one; the chat service passes a
 * lighter Cancellation (cancellation.ts), so a provider may use only these members.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface CompletionRequest {
  /** Falls back to the provider's default model, then to the first model it lists. */
  model?: string;
  messages: ChatTurn[];
  /** Aborting it stops the upstream request at once; the stream then fails with `cancelled`. */
  signal: CancelSignal;
  temperature?: number;
  /**
   * Request fields passed to the provider as given (`tools`, `response_format`, `top_p` …).
   * The fields the provider owns (model, messages, stream, stream_options) are never overridden.
   */
  extra?: Record<string, unknown>;
}

/** One element of a streamed `delta.tool_calls` array, exactly as the provider sent it. */
export type ToolCallDelta = Record<string, unknown>;

export type StreamEvent =
  | { type: 'delta'; text: string }
  /** A `tool_calls` delta, passed on intact (index, id, type, function.name/arguments pieces). */
  | { type: 'tool-calls'; calls: ToolCallDelta[] }
  /** Why the reply ended (`stop`, `length`, `tool_calls` …), when the provider said; after the last delta. */
  | { type: 'finish'; reason: string }
  /** Sent at most once, after the last delta, when the provider reported token counts. */
  | { type: 'usage'; promptTokens: number; completionTokens: number };

export interface ModelProvider {
  /** For example `openai-compatible:http://127.0.0.1:11434/v1`. */
  readonly id: string;
  readonly baseUrl: string;
  readonly defaultModel: string | undefined;
  listModels(signal?: CancelSignal): Promise<string[]>;
  /**
   * Streams one completion. Ends normally only when the provider finished the reply; every
   * failure is thrown as a ProviderError (after the deltas that did arrive were yielded).
   * Breaking out of the iteration aborts the upstream request.
   */
  stream(req: CompletionRequest): AsyncIterable<StreamEvent>;
  /** Releases the connection pool; streams still in flight are cut. Idempotent. */
  close(): Promise<void>;
}
