/** The provider interface the chat service talks to; one implementation per wire protocol. */

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  /** Falls back to the provider's default model, then to the first model it lists. */
  model?: string;
  messages: ChatTurn[];
  /** Aborting it stops the upstream request at once; the stream then fails with `cancelled`. */
  signal: AbortSignal;
  temperature?: number;
}

export type StreamEvent =
  | { type: 'delta'; text: string }
  /** Sent at most once, after the last delta, when the provider reported token counts. */
  | { type: 'usage'; promptTokens: number; completionTokens: number };

export interface ModelProvider {
  /** For example `openai-compatible:http://127.0.0.1:11434/v1`. */
  readonly id: string;
  readonly baseUrl: string;
  readonly defaultModel: string | undefined;
  listModels(signal?: AbortSignal): Promise<string[]>;
  /**
   * Streams one completion. Ends normally only when the provider finished the reply; every
   * failure is thrown as a ProviderError (after the deltas that did arrive were yielded).
   * Breaking out of the iteration aborts the upstream request.
   */
  stream(req: CompletionRequest): AsyncIterable<StreamEvent>;
  /** Releases the connection pool; streams still in flight are cut. Idempotent. */
  close(): Promise<void>;
}
