import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ProviderError } from '../providers/errors.js';
import type { CancelSignal, CompletionRequest, ModelProvider, StreamEvent } from '../providers/types.js';
import { cacheKey, type Cache } from '../cache/cache.js';

/** Replies longer than this are streamed but not kept. */
const MAX_STORED_CHARS = 256 * 1024;
/** Replayed chunks between two yields to the event loop, so a long replay never hogs it. */
const CHUNKS_PER_TURN = 32;

interface StoredCompletion {
  chunks: string[];
  usage: { promptTokens: number; completionTokens: number } | null;
}

/**
 * Key: provider, model, the whole prompt history and any passed-through request fields; any
 * difference is another completion.
 */
export function completionKey(
  provider: string,
  model: string | undefined,
  messages: CompletionRequest['messages'],
  extra?: CompletionRequest['extra'],
): string {
  const digest = createHash('sha256')
    .update(
      JSON.stringify({
        provider,
        model: model ?? null,
        messages: messages.map((m) => (m.wire === undefined ? [m.role, m.content] : [m.role, m.content, m.wire])),
        ...(extra !== undefined ? { extra } : {}),
      }),
    )
    .digest('hex');
  return cacheKey('completion', digest);
}

const isStored = (v: unknown): v is StoredCompletion =>
  typeof v === 'object' && v !== null && Array.isArray((v as StoredCompletion).chunks) && (v as StoredCompletion).chunks.every((c) => typeof c === 'string');

/**
 * Deterministic completions for requests that opt in (`cache: true`). A hit is replayed as the
 * same token stream the provider sent, without calling it; a miss streams from the provider and
 * keeps the reply only if it finished normally (a cancelled or failed reply is never stored).
 */
export class CompletionCache {
  constructor(
    private readonly cache: Cache,
    private readonly ttlSeconds?: number,
  ) {}

  async *stream(provider: ModelProvider, request: CompletionRequest): AsyncGenerator<StreamEvent> {
    const key = completionKey(provider.id, request.model, request.messages, request.extra);
    const stored = await this.cache.get<unknown>(key);
    if (isStored(stored)) {
      yield* replay(stored, request.signal);
      return;
    }
    const chunks: string[] = [];
    let chars = 0;
    let usage: StoredCompletion['usage'] = null;
    // Only plain text replies are kept; one that called tools is answered fresh every time.
    let textOnly = true;
    for await (const event of provider.stream(request)) {
      if (event.type === 'delta') {
        chunks.push(event.text);
        chars += event.text.length;
      } else if (event.type === 'usage') {
        usage = { promptTokens: event.promptTokens, completionTokens: event.completionTokens };
      } else if (event.type === 'tool-calls') {
        textOnly = false;
      }
      yield event;
    }
    if (request.signal.aborted || !textOnly || chunks.length === 0 || chars > MAX_STORED_CHARS) return;
    await this.cache.set(key, { chunks, usage } satisfies StoredCompletion, this.ttlSeconds);
  }
}

async function* replay(stored: StoredCompletion, signal: CancelSignal): AsyncGenerator<StreamEvent> {
  for (let i = 0; i < stored.chunks.length; i++) {
    if (signal.aborted) throw new ProviderError('cancelled', 'the request was cancelled');
    // Also before the first chunk: like a provider's, a replayed stream never answers on the turn
    // of the event loop it was asked on.
    if (i % CHUNKS_PER_TURN === 0) await yieldToLoop();
    yield { type: 'delta', text: stored.chunks[i] ?? '' };
  }
  if (stored.usage) yield { type: 'usage', ...stored.usage };
}
