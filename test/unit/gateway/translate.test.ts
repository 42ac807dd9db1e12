import { describe, expect, it } from 'vitest';
import { assembleToolCalls } from '../../../backend/chat/tool-calls.js';
import { newTurnsOf } from '../../../backend/chat/turns.js';
import { toOpenAIError } from '../../../backend/gateway/errors.js';
import { usageOf } from '../../../backend/gateway/usage.js';
import { ChunkFrames, parseCompletionRequest } from '../../../backend/gateway/wire.js';
import { AppError } from '../../../backend/http/errors.js';
import { ProviderError } from '../../../backend/providers/errors.js';

describe('new turns of a resent history', () => {
  const stored = [
    { role: 'user', content: 'a' },
    { role: 'assistant', content: 'b' },
  ];

  it('stores only what follows the stored prefix; system and tool turns are never stored', () => {
    const sent = [
      { role: 'system' as const, content: 'rules' },
      { role: 'user' as const, content: 'a' },
      { role: 'assistant' as const, content: 'b' },
      { role: 'tool' as const, content: 'result', wire: { tool_call_id: 'x' } },
      { role: 'user' as const, content: 'c' },
    ];
    expect(newTurnsOf(stored, sent)).toEqual([{ role: 'user', content: 'c' }]);
  });

  it('stores every turn of a new conversation, and nothing for an exact resend', () => {
    const sent = [
      { role: 'user' as const, content: 'a' },
      { role: 'assistant' as const, content: 'b' },
    ];
    expect(newTurnsOf([], sent)).toEqual(sent);
    expect(newTurnsOf(stored, sent)).toEqual([]);
  });

  it('stores from the first difference when the client rewrote history', () => {
    const sent = [
      { role: 'user' as const, content: 'a' },
      { role: 'assistant' as const, content: 'edited' },
      { role: 'user' as const, content: 'c' },
    ];
    expect(newTurnsOf(stored, sent)).toEqual(sent.slice(1));
  });
});

describe('tool-call deltas', () => {
  it('joins the pieces of each call by index and keeps unknown fields', () => {
    const calls = assembleToolCalls([
      { index: 1, id: 'call_b', type: 'function', function: { name: 'two', arguments: '' } },
      { index: 0, id: 'call_a', type: 'function', function: { name: 'one', arguments: '{"x"' } },
      { index: 0, function: { arguments: ':1}' } },
      { index: 1, function: { arguments: '{}' }, vendor_extra: true },
    ]);
    expect(calls).toEqual([
      { id: 'call_a', type: 'function', function: { name: 'one', arguments: '{"x":1}' } },
      { id: 'call_b', type: 'function', function: { name: 'two', arguments: '{}' }, vendor_extra: true },
    ]);
  });
});

describe('request translation', () => {
  it('keeps its own fields and passes every other field through', () => {
    const parsed = parseCompletionRequest({
      model: 'm',
      messages: [
        { role: 'developer', content: 'be terse' },
        { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:,' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      ],
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'f' } }],
      response_format: { type: 'json_object' },
      seed: 7,
    });
    expect(parsed).toMatchObject({ model: 'm', stream: true, includeUsage: true });
    expect(parsed.extra).toEqual({ tools: [{ type: 'function', function: { name: 'f' } }], response_format: { type: 'json_object' }, seed: 7 });
    expect(parsed.turns[0]).toEqual({ role: 'system', content: 'be terse', wire: { role: 'developer' } });
    expect(parsed.turns[1]?.content).toBe('look');
    expect(parsed.turns[1]?.wire?.content).toHaveLength(2);
    expect(parsed.turns[2]).toMatchObject({ role: 'assistant', content: '', wire: { content: null } });
  });

  it('refuses what it cannot serve with a 400 naming the parameter', () => {
    const param = (body: unknown): unknown => {
      try {
        parseCompletionRequest(body);
      } catch (err) {
        return toOpenAIError(err).body.error.param;
      }
      return 'accepted';
    };
    expect(param({ messages: [{ role: 'user', content: 'x' }] })).toBe('model');
    expect(param({ model: 'm', messages: [] })).toBe('messages');
    expect(param({ model: 'm', messages: [{ role: 'robot', content: 'x' }] })).toBe('messages.0.role');
    expect(param({ model: 'm', messages: [{ role: 'user', content: 'x' }], n: 2 })).toBe('n');
    expect(param({ model: 'm', messages: [{ role: 'user', content: 'nul\u0000' }] })).toBe('messages.0.content');
  });
});

describe('errors', () => {
  it('maps provider failures to the statuses OpenAI clients expect', () => {
    const upstream = (status: number): number =>
      toOpenAIError(new ProviderError('provider-error', 'x', { provider: 'p', status, message: 'm' })).status;
    expect(upstream(429)).toBe(429);
    expect(upstream(400)).toBe(400);
    expect(upstream(404)).toBe(404);
    // The provider refusing Orchestra's own key is not the client's fault.
    expect(upstream(401)).toBe(502);
    expect(upstream(500)).toBe(502);
    expect(toOpenAIError(new ProviderError('provider-circuit-open', 'open')).status).toBe(503);
    expect(toOpenAIError(new ProviderError('provider-timeout', 'slow')).status).toBe(504);
    const limited = toOpenAIError(new AppError(429, 'too-many-chats', 'busy', { retryAfterSeconds: 2.5 }));
    expect(limited).toMatchObject({ status: 429, retryAfter: '3', body: { error: { type: 'rate_limit_error', code: 'too_many_chats', param: null } } });
    expect(toOpenAIError(new Error('boom')).body.error).toEqual({
      message: 'something went wrong on the server; the log has the details',
      type: 'server_error',
      param: null,
      code: 'internal_error',
    });
  });
});

describe('chunks and usage', () => {
  it('builds chunks that parse as OpenAI chunk objects', () => {
    const frames = new ChunkFrames({ id: 'chatcmpl-1', created: 1, model: 'm' }, true);
    const parse = (frame: string): Record<string, unknown> => JSON.parse(frame.slice('data: '.length)) as Record<string, unknown>;
    expect(parse(frames.role())).toEqual({
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }],
      usage: null,
    });
    expect(parse(frames.content('a "quoted"\nline'))).toMatchObject({ choices: [{ delta: { content: 'a "quoted"\nline' } }] });
    expect(parse(frames.finish('stop'))).toMatchObject({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null });
    expect(parse(frames.usage({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }, { x: 1 }))).toMatchObject({ choices: [], orchestra: { x: 1 } });
  });

  it('uses the provider counts, or estimates when there are none', () => {
    expect(usageOf({ promptTokens: 4, completionTokens: 6 }, [], 'whatever', [])).toEqual({ prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 });
    const estimated = usageOf(undefined, [{ role: 'user', content: '12345678' }], '1234', []);
    expect(estimated).toEqual({ prompt_tokens: 3 + 3 + 2, completion_tokens: 1, total_tokens: 9 });
  });
});
