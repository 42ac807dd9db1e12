import { createServer } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../fixtures/fake-provider.js';

let fake: FakeProvider | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function post(url: string, body: unknown): Promise<{ status: number; type: string; text: string }> {
  const res = await request(`${url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, type: String(res.headers['content-type']), text: await res.body.text() };
}

describe('fake provider', () => {
  it('speaks the OpenAI wire format: model list, SSE stream with usage and [DONE], JSON completion', async () => {
    fake = await startFakeProvider({ tokens: 2, models: ['x'] });
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = await request(`${fake.url}/models`);
    expect(await models.body.json()).toMatchObject({ object: 'list', data: [{ id: 'x', object: 'model' }] });

    const messages = [{ role: 'user', content: 'a b' }];
    const sse = await post(fake.url, { model: 'x', messages, stream: true, stream_options: { include_usage: true } });
    expect(sse.type).toContain('text/event-stream');
    const events = sse.text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)) as Record<string, unknown>);
    expect(chunks.map((c) => (c.choices as { delta?: { content?: string } }[])[0]?.delta?.content ?? null)).toEqual([
      '',
      'tok0 ',
      'tok1 ',
      null,
      null,
    ]);
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 });

    const json = await post(fake.url, { model: 'x', messages });
    expect(JSON.parse(json.text)).toMatchObject({ choices: [{ message: { role: 'assistant', content: 'tok0 tok1 ' } }] });
    expect(fake.requests.map((r) => [r.method, r.path, r.aborted])).toEqual([
      ['GET', '/v1/models', false],
      ['POST', '/v1/chat/completions', false],
      ['POST', '/v1/chat/completions', false],
    ]);
  });

  it('echoes the last user message and answers errors as told', async () => {
    fake = await startFakeProvider({ echo: true });
    const messages = [
      { role: 'user', content: 'first' },
      { role: 'user', content: ' héllo  wörld ' },
    ];
    const echoed = await post(fake.url, { messages });
    expect(JSON.parse(echoed.text)).toMatchObject({ choices: [{ message: { content: ' héllo  wörld ' } }] });
    fake.set({ mode: 'http-error', errorStatus: 429, errorMessage: 'busy' });
    const failed = await post(fake.url, { messages, stream: true });
    expect(failed.status).toBe(429);
    expect(JSON.parse(failed.text)).toEqual({ error: { message: 'busy', type: 'server_error', code: 'fake_429' } });
  });

  it('close releases the port and every connection, even with a stream hanging', async () => {
    fake = await startFakeProvider({ mode: 'hang' });
    const { port, url } = fake;
    const res = await request(`${url}/chat/completions`, { method: 'POST', body: JSON.stringify({ stream: true }) });
    expect(fake.activeStreams()).toBe(1);
    const body = res.body.text().catch(() => 'cut');
    await fake.close();
    await fake.close();
    fake = undefined;
    await expect(body).resolves.toBe('cut');
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => again.close(resolve));
  });
});
