import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError, RateLimitError, UnprocessableEntityError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../backend/data/store.js';
import { toolCallEvents, type FakeToolCall } from '../fixtures/fake-provider.js';
import { startTestServer, waitFor, type TestServer } from '../fixtures/test-server.js';
import { PATIENCE_MS } from '../fixtures/patience.js';

/**
 * The OpenAI-compatible gateway driven by the official `openai` SDK, as a remote frontend would
 * drive it, against a real server and the fake provider.
 */

const CONVERSATION = 'x-orchestra-conversation-id';

function clientFor(t: TestServer, apiKey = t.token, baseHost?: string): OpenAI {
  const base = baseHost === undefined ? t.url : t.url.replace('127.0.0.1', baseHost);
  return new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0, timeout: PATIENCE_MS });
}

async function conversation(t: TestServer, id: string): Promise<{ messages: Message[] }> {
  const res = await t.api(`/api/conversations/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as { messages: Message[] };
}

function lastProviderBody(t: TestServer): Record<string, unknown> {
  const last = t.provider?.requests.filter((r) => r.path.endsWith('/chat/completions')).pop();
  return last?.body as Record<string, unknown>;
}

const TEN_TOKENS = Array.from({ length: 10 }, (_, i) => `tok${i} `).join('');

let t: TestServer;
let client: OpenAI;
beforeAll(async () => {
  t = await startTestServer();
  client = clientFor(t);
});
afterAll(async () => {
  await t.close();
});
afterEach(() => {
  t.provider?.set({ mode: 'ok', echo: false, usage: true, toolCalls: [], tokens: 10, tokenIntervalMs: 0 });
});

describe('models', () => {
  it('lists the provider models as OpenAI model objects', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toEqual(['fake-model', 'fake-model-2']);
    for (const m of page.data) {
      expect(m.object).toBe('model');
      expect(typeof m.created).toBe('number');
      expect(m.owned_by).toBe('orchestra');
    }
    await expect(client.models.retrieve('fake-model-2')).resolves.toMatchObject({ id: 'fake-model-2', object: 'model' });
    await expect(client.models.retrieve('nope')).rejects.toBeInstanceOf(NotFoundError);
    const other = await startTestServer({ provider: { models: ['vendor/model-a'] } });
    try {
      await expect(clientFor(other).models.retrieve('vendor/model-a')).resolves.toMatchObject({ id: 'vendor/model-a' });
    } finally {
      await other.close();
    }
  });
});

describe('chat completions', () => {
  it('answers a completion as a chat.completion, stores it, and names the conversation', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'fake-model', messages: [{ role: 'user', content: 'hello gateway world' }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.id).toMatch(/^chatcmpl-/);
    expect(data.model).toBe('fake-model');
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]).toMatchObject({
      index: 0,
      message: { role: 'assistant', content: TEN_TOKENS, refusal: null },
      finish_reason: 'stop',
      logprobs: null,
    });
    expect(data.choices[0]?.message.tool_calls).toBeUndefined();
    // The provider's own counts: three words of prompt, ten tokens of reply.
    expect(data.usage).toEqual({ prompt_tokens: 3, completion_tokens: 10, total_tokens: 13 });
    expect(response.headers.get('x-orchestra-validation')).toBe('none');

    const conversationId = response.headers.get(CONVERSATION);
    expect(conversationId).toMatch(/^[0-9a-f-]{36}$/);
    const orchestra = (data as unknown as { orchestra: { conversationId: string; messageId: string; validation: unknown } }).orchestra;
    expect(orchestra).toEqual({ conversationId, messageId: data.id.slice('chatcmpl-'.length), validation: null });
    const stored = await conversation(t, conversationId ?? '');
    expect(stored.messages.map((m) => [m.role, m.content, m.status])).toEqual([
      ['user', 'hello gateway world', 'complete'],
      ['assistant', TEN_TOKENS, 'complete'],
    ]);
    // Only what the client sent (and the stream the service needs) reaches the provider.
    const sent = lastProviderBody(t);
    expect(sent.model).toBe('fake-model');
    expect(sent.messages).toEqual([{ role: 'user', content: 'hello gateway world' }]);
  });

  it('streams chunks in OpenAI order: role first, finish in its own chunk, then usage, then [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'fake-model',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    for (const c of chunks) expect(c.object).toBe('chat.completion.chunk');
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    expect(withChoices[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(withChoices.slice(1).every((c) => c.choices[0]?.delta.role === undefined)).toBe(true);
    const finish = withChoices[withChoices.length - 1];
    expect(finish?.choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' });
    expect(withChoices.slice(0, -1).every((c) => c.choices[0]?.finish_reason === null)).toBe(true);
    expect(withChoices.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(TEN_TOKENS);
    // Every chunk but the last says usage: null; the last has no choices and the usage.
    expect(withChoices.every((c) => c.usage === null)).toBe(true);
    const last = chunks[chunks.length - 1];
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({ prompt_tokens: 2, completion_tokens: 10, total_tokens: 12 });
    const orchestra = (last as unknown as { orchestra: { conversationId: string; validation: unknown } }).orchestra;
    expect(orchestra.validation).toBeNull();
    const stored = await conversation(t, orchestra.conversationId);
    expect(stored.messages.map((m) => m.status)).toEqual(['complete', 'complete']);
  });

  it('ends a raw stream with data: [DONE] and never sends "" where OpenAI sends null', async () => {
    const res = await t.api('/v1/chat/completions', {
      method: 'POST',
      json: { model: 'fake-model', messages: [{ role: 'user', content: 'raw' }], stream: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get(CONVERSATION)).toMatch(/^[0-9a-f-]{36}$/);
    const frames = (await res.text()).split('\n\n').filter((f) => f !== '');
    expect(frames.every((f) => f.startsWith('data: '))).toBe(true);
    expect(frames[frames.length - 1]).toBe('data: [DONE]');
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.slice(6)) as { choices: Array<Record<string, unknown>>; orchestra?: unknown; usage?: unknown });
    // Without include_usage: no usage field at all, and the orchestra field on the last chunk.
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
    expect(chunks[chunks.length - 1]?.orchestra).toBeDefined();
    expect(chunks.slice(0, -1).every((c) => c.orchestra === undefined)).toBe(true);
    for (const c of chunks) {
      expect(c.choices[0]?.finish_reason === '' || c.choices[0]?.logprobs === '').toBe(false);
    }
  });

  it('counts usage when the provider reports none', async () => {
    t.provider?.set({ usage: false, echo: true });
    const stream = await client.chat.completions.create({
      model: 'fake-model',
      messages: [{ role: 'user', content: 'count these words for me please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) if (chunk.choices.length === 0) usage = chunk.usage;
    // 31 characters each way at four per token, plus framing on the prompt side.
    expect(usage?.completion_tokens).toBe(8);
    expect(usage?.prompt_tokens).toBeGreaterThan(8);
    expect(usage?.total_tokens).toBe((usage?.prompt_tokens ?? 0) + 8);
  });

  it('cancels the reply when the client aborts mid-stream, and stores it as cancelled', async () => {
    t.provider?.set({ tokens: 500, tokenIntervalMs: 10 });
    const controller = new AbortController();
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'fake-model', messages: [{ role: 'user', content: 'a long one' }], stream: true }, { signal: controller.signal })
      .withResponse();
    const conversationId = response.headers.get(CONVERSATION) ?? '';
    const aborted = t.provider?.waitForAbort();
    let content = 0;
    // The SDK ends the iteration quietly when its signal aborts; chunks it had already read from
    // the socket may still come out, so the count is at least 3 and far below the 500 tokens.
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) content++;
      if (content === 3) controller.abort();
    }
    expect(content).toBeGreaterThanOrEqual(3);
    expect(content).toBeLessThan(500);
    // The upstream request is cut too, and the partial reply is stored as cancelled.
    await aborted;
    const reply = await waitFor(async () => {
      const m = (await conversation(t, conversationId)).messages.find((x) => x.role === 'assistant');
      return m?.status === 'cancelled' ? m : undefined;
    }, 'the reply stored as cancelled');
    expect(reply.content.startsWith('tok0 tok1 tok2 ')).toBe(true);
  });
});

describe('conversations', () => {
  it('continues a conversation by header and stores only the new turns of a resent history', async () => {
    t.provider?.set({ echo: true });
    const first = await client.chat.completions
      .create({ model: 'fake-model', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'first question' }] })
      .withResponse();
    const conversationId = first.response.headers.get(CONVERSATION) ?? '';
    // The system message goes to the provider; it is not stored as a turn.
    expect(lastProviderBody(t).messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'first question' },
    ]);
    const answer = first.data.choices[0]?.message.content ?? '';

    const second = await client.chat.completions
      .create(
        {
          model: 'fake-model',
          messages: [
            { role: 'system', content: 'be brief' },
            { role: 'user', content: 'first question' },
            { role: 'assistant', content: answer },
            { role: 'user', content: 'second question' },
          ],
        },
        { headers: { 'X-Orchestra-Conversation-Id': conversationId } },
      )
      .withResponse();
    expect(second.response.headers.get(CONVERSATION)).toBe(conversationId);
    expect(second.data.choices[0]?.message.content).toBe('second question');
    // The provider sees the history exactly as the client sent it.
    expect((lastProviderBody(t).messages as unknown[]).length).toBe(4);
    const stored = await conversation(t, conversationId);
    expect(stored.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'first question'],
      ['assistant', 'first question'],
      ['user', 'second question'],
      ['assistant', 'second question'],
    ]);
  });

  it('finds the conversation of a client that resends its history without the header', async () => {
    t.provider?.set({ echo: true });
    const first = await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'stateless one' }] }).withResponse();
    const conversationId = first.response.headers.get(CONVERSATION) ?? '';
    const history: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'stateless one' },
      { role: 'assistant', content: first.data.choices[0]?.message.content ?? '' },
      { role: 'user', content: 'stateless two' },
    ];
    const second = await client.chat.completions.create({ model: 'fake-model', messages: history, stream: true }).withResponse();
    for await (const _ of second.data) {
      // drained
    }
    expect(second.response.headers.get(CONVERSATION)).toBe(conversationId);
    const third = await client.chat.completions
      .create({ model: 'fake-model', messages: [...history, { role: 'assistant', content: 'stateless two' }, { role: 'user', content: 'stateless three' }] })
      .withResponse();
    expect(third.response.headers.get(CONVERSATION)).toBe(conversationId);
    expect((await conversation(t, conversationId)).messages.map((m) => m.content)).toEqual([
      'stateless one',
      'stateless one',
      'stateless two',
      'stateless two',
      'stateless three',
      'stateless three',
    ]);

    // Once that conversation is deleted, the same history starts a new one instead of failing.
    expect((await t.api(`/api/conversations/${conversationId}`, { method: 'DELETE' })).status).toBe(204);
    const after = await client.chat.completions.create({ model: 'fake-model', messages: history }).withResponse();
    const fresh = after.response.headers.get(CONVERSATION) ?? '';
    expect(fresh).not.toBe(conversationId);
    expect((await conversation(t, fresh)).messages.map((m) => m.content)).toEqual(['stateless one', 'stateless one', 'stateless two', 'stateless two']);
  });

  it('404 in OpenAI shape for a conversation that does not exist', async () => {
    const err = await client.chat.completions
      .create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'X-Orchestra-Conversation-Id': '0190a5d2-0000-7000-8000-000000000000' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
  });
});

describe('errors in OpenAI shape', () => {
  it('AuthenticationError for a bad key, with OpenAI error fields', async () => {
    const err = await clientFor(t, 'not-the-token-at-all')
      .chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error', param: null });
    await expect(clientFor(t, 'not-the-token-at-all').models.list()).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('BadRequestError naming the parameter, NotFoundError for an unknown model', async () => {
    const bad = await client.chat.completions.create({ model: 'fake-model', messages: [] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect(bad).toMatchObject({ status: 400, type: 'invalid_request_error', param: 'messages' });
    const noModel = await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(noModel).toBeInstanceOf(NotFoundError);
    expect(noModel).toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('400 for a body that is not JSON, and 404 (not the app page) for unknown /v1 routes', async () => {
    const res = await t.api('/v1/chat/completions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{nope' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
    for (const path of ['/v1/embeddings', '/v1', '/v1/chat/completions/extra']) {
      const r = await t.api(path);
      expect(r.status).toBe(404);
      expect(r.headers.get('content-type')).toMatch(/application\/json/);
      const body = (await r.json()) as { error: Record<string, unknown> };
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'unknown_url', param: null });
    }
  });

  it('the shared Host guard answers /v1 in OpenAI shape too', async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${t.url}/v1/models`, { headers: { host: 'rebinding.example', authorization: `Bearer ${t.token}` } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
    expect(JSON.parse(body)).toEqual({ error: { message: expect.stringMatching(/ALLOWED_HOSTS/), type: 'permission_error', param: null, code: 'host_not_allowed' } });
  });

  it('RateLimitError with Retry-After when the provider rate-limits', async () => {
    t.provider?.set({ mode: 'http-error', errorStatus: 429, errorMessage: 'slow down' });
    const err = await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).headers?.get('retry-after')).toMatch(/^\d+$/);
    expect((err as RateLimitError).message).toMatch(/slow down/);
    // A stream refused before its first chunk gets the same status, not a 200 with an error inside.
    const streamed = await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }], stream: true }).catch((e: unknown) => e);
    expect(streamed).toBeInstanceOf(RateLimitError);
  });

  it('a provider that fails mid-stream ends the stream with an error frame, not silently', async () => {
    t.provider?.set({ mode: 'disconnect-after', disconnectAfterTokens: 3 });
    const stream = await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).code).toBe('provider_disconnected');
    expect(seen.join('')).toBe('tok0 tok1 tok2 ');
  });
});

describe('tools pass through', () => {
  const CALLS: FakeToolCall[] = [
    { id: 'call_weather_1', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
    { id: 'call_time_2', name: 'get_time', arguments: '{"zone":"Europe/Paris"}' },
  ];
  const TOOLS: OpenAI.ChatCompletionTool[] = [
    {
      type: 'function',
      function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    },
    { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } } },
  ];

  it('passes tools and unknown fields to the provider and its tool_calls deltas back intact', async () => {
    t.provider?.set({ toolCalls: CALLS });
    const stream = await client.chat.completions.create({
      model: 'fake-model',
      messages: [{ role: 'user', content: 'weather and time in Paris?' }],
      tools: TOOLS,
      tool_choice: 'auto',
      parallel_tool_calls: true,
      response_format: { type: 'text' },
      temperature: 0.2,
      stream: true,
    });
    const deltas: unknown[] = [];
    const finishes: Array<string | null> = [];
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.tool_calls) deltas.push(...choice.delta.tool_calls);
      if (choice) finishes.push(choice.finish_reason);
    }
    expect(deltas).toEqual(toolCallEvents(CALLS));
    expect(finishes[finishes.length - 1]).toBe('tool_calls');
    expect(finishes.slice(0, -1).every((f) => f === null)).toBe(true);

    const sent = lastProviderBody(t);
    expect(sent.tools).toEqual(TOOLS);
    expect(sent).toMatchObject({ tool_choice: 'auto', parallel_tool_calls: true, response_format: { type: 'text' }, temperature: 0.2 });
  });

  it('answers whole tool calls without streaming, and carries tool results to the provider', async () => {
    t.provider?.set({ toolCalls: CALLS });
    const { data, response } = await client.chat.completions
      .create({ model: 'fake-model', messages: [{ role: 'user', content: 'weather?' }], tools: TOOLS })
      .withResponse();
    const message = data.choices[0]?.message;
    expect(data.choices[0]?.finish_reason).toBe('tool_calls');
    expect(message?.content).toBeNull();
    expect(message?.tool_calls).toEqual(CALLS.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })));

    t.provider?.set({ toolCalls: [], echo: true });
    const conversationId = response.headers.get(CONVERSATION) ?? '';
    const followUp: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, tool_calls: message?.tool_calls ?? [] },
      { role: 'tool', tool_call_id: 'call_weather_1', content: '18 degrees' },
      { role: 'tool', tool_call_id: 'call_time_2', content: '14:00' },
      { role: 'user', content: 'so?' },
    ];
    await client.chat.completions.create({ model: 'fake-model', messages: followUp, tools: TOOLS }, { headers: { 'X-Orchestra-Conversation-Id': conversationId } });
    expect(lastProviderBody(t).messages).toEqual(followUp);
    const stored = await conversation(t, conversationId);
    expect(stored.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'weather?'],
      ['assistant', ''],
      ['user', 'so?'],
      ['assistant', 'so?'],
    ]);
  });
});

describe('validation', () => {
  const CODE = 'Here:\n\n```js\nconst a = 1;\neval(userInput);\n```\n';

  it('reports the verdict in X-Orchestra-Validation and the orchestra field', async () => {
    t.provider?.set({ echo: true });
    const { data, response } = await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: CODE }] }).withResponse();
    expect(response.headers.get('x-orchestra-validation')).toBe('fail');
    const orchestra = (data as unknown as { orchestra: { validation: { verdict: string; findings: Array<{ ruleId: string }> } } }).orchestra;
    expect(orchestra.validation.verdict).toBe('fail');
    expect(orchestra.validation.findings.map((f) => f.ruleId)).toContain('no-eval');

    const clean = await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'Fine:\n\n```js\nconst a = 1;\nexport { a };\n```\n' }] }).withResponse();
    expect(clean.response.headers.get('x-orchestra-validation')).toBe('pass');
  });

  it('GATEWAY_BLOCK_ON_FAIL refuses a failing reply with a clear error, streamed or not', async () => {
    const strict = await startTestServer({ provider: { echo: true }, overrides: { gatewayBlockOnFail: true } });
    try {
      const c = clientFor(strict);
      const err = await c.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: CODE }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnprocessableEntityError);
      expect(err).toMatchObject({ status: 422, code: 'code_validation_failed', type: 'validation_error' });
      expect((err as APIError).message).toMatch(/GATEWAY_BLOCK_ON_FAIL.*no-eval/s);
      const streamed = await c.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: CODE }], stream: true }).catch((e: unknown) => e);
      expect(streamed).toBeInstanceOf(UnprocessableEntityError);
      // A passing reply still streams normally.
      const ok = await c.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'no code here' }], stream: true });
      let text = '';
      for await (const chunk of ok) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('no code here');
    } finally {
      await strict.close();
    }
  });
});

describe('limits and breakers', () => {
  it('RateLimitError with Retry-After from the shared rate limit, for a client that is not on loopback', async () => {
    const address = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
    // This machine must have a non-loopback interface for a remote-looking client.
    expect(address).toBeDefined();
    const remote = await startTestServer({ overrides: { host: address, rateLimitPerMinute: 2 } });
    try {
      const c = new OpenAI({ baseURL: `http://${address}:${remote.server.port}/v1`, apiKey: remote.token, maxRetries: 0 });
      await c.models.list();
      await c.models.list();
      const err = await c.models.list().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RateLimitError);
      expect(err).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
      expect(Number((err as RateLimitError).headers?.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await remote.close();
    }
  });

  it('503 while the provider is down and while its breaker is open', async () => {
    const down = await startTestServer({ overrides: { circuitBreakerThreshold: 1, circuitBreakerResetMs: 60_000 } });
    try {
      const c = clientFor(down);
      await c.models.list(); // fills the model cache, so the check below does not touch the provider
      down.provider?.set({ mode: 'refuse' });
      const first = await c.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(first).toMatchObject({ status: 503, code: 'provider_unavailable' });
      const second = await c.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }], stream: true }).catch((e: unknown) => e);
      expect(second).toMatchObject({ status: 503, code: 'provider_circuit_open' });
      expect((second as APIError).headers?.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await down.close();
    }
  });

  it('counts completions by credential name in /metrics', async () => {
    await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'count me' }] });
    for await (const _ of await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'and me' }], stream: true })) {
      // drained
    }
    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(text).toMatch(/orchestra_gateway_requests_total\{credential="owner",outcome="complete",stream="false"\} [1-9]/);
    expect(text).toMatch(/orchestra_gateway_tokens_total\{credential="owner",kind="completion"\} [1-9]/);
    expect(text).toMatch(/orchestra_gateway_time_to_first_token_seconds_count\{credential="owner"\} [1-9]/);
    const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
    expect(promtool, 'promtool is installed by .ci/run (Debian package prometheus)').toBeDefined();
    const file = path.join(t.dataDir, 'gateway-metrics.txt');
    writeFileSync(file, text);
    const out = execFileSync('/bin/sh', ['-c', `${promtool ?? 'promtool'} check metrics < ${file} 2>&1; echo "exit=$?"`]).toString();
    expect(out.trim().split('\n').pop()).toBe('exit=0');
  });
});
