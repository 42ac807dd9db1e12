import { z } from 'zod';
import type { ToolCall } from '../chat/tool-calls.js';
import type { ChatTurn, ToolCallDelta } from '../providers/types.js';
import { AppError } from '../http/errors.js';

/**
 * OpenAI's Chat Completions wire format: the request as clients send it, and the
 * `chat.completion` / `chat.completion.chunk` objects they expect back.
 */

const contentPart = z.looseObject({ type: z.string() });

const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
});

/** Only the fields the gateway itself reads; every other field goes on to the provider. */
export const completionRequest = z.looseObject({
  model: z.string({ error: (i) => (i.input === undefined ? 'you must provide a model parameter' : 'model must be a string') }).min(1).max(200),
  messages: z.array(message, { error: 'messages must be an array of messages' }).min(1, 'messages must contain at least one message'),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullable().optional() }).nullable().optional(),
  n: z.number().int().min(1).max(1, 'only n=1 is supported').nullable().optional(),
});

export type CompletionRequestBody = z.infer<typeof completionRequest>;

/** Fields the gateway answers itself: not passed to the provider. */
const OWN_FIELDS = new Set(['model', 'messages', 'stream', 'stream_options', 'n']);

export interface ParsedRequest {
  model: string;
  turns: ChatTurn[];
  stream: boolean;
  includeUsage: boolean;
  /** Everything else the client sent (tools, response_format, temperature …). */
  extra: Record<string, unknown> | undefined;
}

export function parseCompletionRequest(input: unknown): ParsedRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new AppError(400, 'invalid-request', 'the request body must be a JSON object', { param: null });
  }
  const result = completionRequest.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const param = issue !== undefined && issue.path.length > 0 ? issue.path.map(String).join('.') : null;
    throw new AppError(400, 'invalid-request', `${param ?? 'body'}: ${issue?.message ?? 'invalid'}`, { param });
  }
  const body = result.data;
  const turns = body.messages.map((m, i) => toTurn(m, i));
  let extra: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(body)) {
    if (OWN_FIELDS.has(key)) continue;
    extra ??= {};
    extra[key] = value;
  }
  return {
    model: body.model,
    turns,
    stream: body.stream === true,
    includeUsage: body.stream === true && body.stream_options?.include_usage === true,
    extra,
  };
}

function toTurn(m: z.infer<typeof message>, index: number): ChatTurn {
  const { role, content, ...rest } = m;
  let text: string;
  let wire: Record<string, unknown> | undefined = Object.keys(rest).length > 0 ? rest : undefined;
  if (typeof content === 'string') text = content;
  else {
    // Structured parts (text, images …) go to the provider as sent; their text is what is stored.
    text = (content ?? [])
      .map((p) => (p.type === 'text' && typeof p.text === 'string' ? p.text : ''))
      .filter((t) => t.length > 0)
      .join('\n');
    wire = { ...wire, content: content ?? null };
  }
  // PostgreSQL cannot store NUL in text, and no real message needs it.
  if (text.includes('\u0000')) {
    throw new AppError(400, 'invalid-request', `messages.${index}.content must not contain NUL characters`, { param: `messages.${index}.content` });
  }
  if (role === 'developer') return { role: 'system', content: text, wire: { ...wire, role } };
  return wire === undefined ? { role, content: text } : { role, content: text, wire };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
}

export interface ChatCompletion extends CompletionMeta {
  object: 'chat.completion';
  choices: Array<{
    index: 0;
    message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: ToolCall[] };
    logprobs: null;
    finish_reason: string;
  }>;
  usage: Usage;
  orchestra: unknown;
}

export function completionObject(meta: CompletionMeta, content: string, toolCalls: ToolCall[], finishReason: string, usage: Usage, orchestra: unknown): ChatCompletion {
  const hasCalls = toolCalls.length > 0;
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          // OpenAI sends null, not "", for the text of a reply that only calls tools.
          content: hasCalls && content.length === 0 ? null : content,
          refusal: null,
          ...(hasCalls ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: finishReason,
      },
    ],
    usage,
    orchestra,
  };
}

/**
 * Builds the `data:` frames of one streamed completion. Content frames sit on the token hot
 * path, so their fixed parts are serialised once and only the delta is encoded per token.
 */
export class ChunkFrames {
  private readonly head: string;
  private readonly tail: string;

  constructor(
    private readonly meta: CompletionMeta,
    /** With `stream_options.include_usage`, OpenAI puts `"usage": null` on every other chunk. */
    private readonly includeUsage: boolean,
  ) {
    this.head = `data: {"id":${JSON.stringify(meta.id)},"object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(meta.model)},"choices":[{"index":0,"delta":`;
    this.tail = `,"logprobs":null,"finish_reason":null}]${includeUsage ? ',"usage":null' : ''}}\n\n`;
  }

  /** The first chunk: the only one that names the role. */
  role(): string {
    return `${this.head}{"role":"assistant","content":"","refusal":null}${this.tail}`;
  }

  content(text: string): string {
    return `${this.head}{"content":${JSON.stringify(text)}}${this.tail}`;
  }

  toolCalls(calls: ToolCallDelta[]): string {
    return `${this.head}{"tool_calls":${JSON.stringify(calls)}}${this.tail}`;
  }

  /** Its own chunk, with an empty delta, after the last content. */
  finish(reason: string, orchestra?: unknown): string {
    const chunk: Record<string, unknown> = {
      ...this.base(),
      choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: reason }],
    };
    if (this.includeUsage) chunk.usage = null;
    if (orchestra !== undefined) chunk.orchestra = orchestra;
    return `data: ${JSON.stringify(chunk)}\n\n`;
  }

  /** With `include_usage`: one more chunk, with no choices, before [DONE]. */
  usage(usage: Usage, orchestra?: unknown): string {
    const chunk: Record<string, unknown> = { ...this.base(), choices: [], usage };
    if (orchestra !== undefined) chunk.orchestra = orchestra;
    return `data: ${JSON.stringify(chunk)}\n\n`;
  }

  private base(): Record<string, unknown> {
    return { id: this.meta.id, object: 'chat.completion.chunk', created: this.meta.created, model: this.meta.model };
  }
}

export const DONE_FRAME = 'data: [DONE]\n\n';

export function errorFrame(body: unknown): string {
  return `data: ${JSON.stringify(body)}\n\n`;
}
