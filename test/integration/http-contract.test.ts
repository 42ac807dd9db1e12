import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

let t: TestServer;
beforeAll(async () => {
  // Debug level: a chat turn's own lines (turn finished) are debug lines, and every one of them
  // must carry the request's id.
  t = await startTestServer({ overrides: { bodyLimitBytes: 64 * 1024, corsOrigins: 'http://app.example', logLevel: 'debug' } });
});
afterAll(async () => {
  await t.close();
});

const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string; details?: { field?: string } } }).error;

describe('probes', () => {
  it('GET /healthz needs no token', async () => {
    const res = await fetch(`${t.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 200 while the database answers', async () => {
    const res = await fetch(`${t.url}/readyz`);
    expect(res.status).toBe(200);
  });
});

describe('authentication', () => {
  it('401 without a token, with the contract error shape', async () => {
    const res = await t.api('/api/status', { auth: false });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe('unauthorized');
  });

  it('401 with a wrong token', async () => {
    const res = await fetch(`${t.url}/api/status`, { headers: { Authorization: 'Bearer wrong-token-wrong-token' } });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe('invalid-token');
  });

  it('the pairing link sets an HttpOnly cookie that authenticates', async () => {
    const bad = await fetch(`${t.url}/pair?token=nope`, { redirect: 'manual' });
    expect(bad.status).toBe(401);
    const res = await fetch((await t.server.pairingLink()).url, { redirect: 'manual' });
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/orchestra_token=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const pair = cookie.split(';')[0] ?? '';
    const status = await fetch(`${t.url}/api/status`, { headers: { Cookie: pair } });
    expect(status.status).toBe(200);
  });

  it('keeps the generated token in DATA_DIR with mode 0600', async () => {
    const { statSync, readFileSync } = await import('node:fs');
    const file = path.join(t.dataDir, 'api-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(t.token);
  });
});

describe('status', () => {
  it('GET /api/status has the contract shape', async () => {
    const res = await t.api('/api/status');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 'ok',
      version: expect.any(String),
      uptimeSeconds: expect.any(Number),
      components: {
        database: { backend: 'sqlite', mode: 'primary', pendingSync: 0 },
        cache: { l1: { entries: expect.any(Number), bytes: expect.any(Number), hitRatio: expect.any(Number) }, l2: { backend: 'none' } },
        provider: { source: 'configured' },
        websocket: { clients: 0 },
      },
    });
  });
});

describe('bad input', () => {
  it('400 for malformed JSON', async () => {
    const res = await t.api('/api/chat', { method: 'POST', body: '{"message": ', headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid-json');
  });

  it.each([
    [{ message: 42 }, 'message'],
    [{ message: '' }, 'message'],
    [{ message: '   ' }, 'message'],
    [{}, 'message'],
    [{ message: 'hi', conversationId: 'not-an-id' }, 'conversationId'],
    [{ message: 'hi', stream: 'yes' }, 'stream'],
    [{ message: 'hi', extra: 1 }, 'body'],
    [{ message: 'nul \u0000 inside' }, 'message'],
  ])('400 naming the field for %o', async (body, field) => {
    const res = await t.api('/api/chat', { method: 'POST', json: body });
    expect(res.status).toBe(400);
    const err = await errorOf(res);
    expect(err.code).toBe('invalid-request');
    expect(err.details?.field).toBe(field);
  });

  it('413 for a body over the limit', async () => {
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'x'.repeat(70 * 1024) } });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('payload-too-large');
  });

  it('415 for a body that is not JSON', async () => {
    const res = await t.api('/api/chat', { method: 'POST', body: 'message=hi', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(415);
  });

  it('404 JSON for an unknown conversation and an unknown route', async () => {
    const a = await t.api('/api/conversations/01890a5d-ac96-774b-bcce-b302099a8057');
    expect(a.status).toBe(404);
    expect((await errorOf(a)).code).toBe('not-found');
    const b = await t.api('/api/nothing-here');
    expect(b.status).toBe(404);
    expect((await errorOf(b)).code).toBe('not-found');
    const c = await fetch(`${t.url}/nothing`, { method: 'POST' });
    expect(c.status).toBe(404);
    expect(c.headers.get('content-type')).toMatch(/json/);
  });

  it('a JSON chat turn answers with the charset and the byte length of its body', async () => {
    // An echoed reply carries the message's multi-byte characters into the answer.
    t.provider?.set({ echo: true });
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'ça va? 🎉' } }).finally(() => t.provider?.set({ echo: false }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
    const body = JSON.parse(bytes.toString('utf8')) as { conversationId: string; message: { conversationId: string; status: string; role: string } };
    expect(body.message).toMatchObject({ conversationId: body.conversationId, status: 'complete', role: 'assistant', content: 'ça va? 🎉' });
  });

  it('404 when chatting into an unknown conversation', async () => {
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'hi', conversationId: '01890a5d-ac96-774b-bcce-b302099a8057' } });
    expect(res.status).toBe(404);
  });

  it('400 for bad list parameters', async () => {
    const res = await t.api('/api/conversations?limit=0');
    expect(res.status).toBe(400);
    expect((await errorOf(res)).details?.field).toBe('limit');
  });

  it('/api/validate validates a snippet, and refuses a bad body in the error shape', async () => {
    const res = await t.api('/api/validate', { method: 'POST', json: { code: 'const a = 1;\n', language: 'typescript' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ verdict: 'pass', findings: [] });
    const bad = await t.api('/api/validate', { method: 'POST', json: { code: 42 } });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).code).toBe('invalid-request');
  });
});

describe('security', () => {
  it('rejects a Host header that is not allowed (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${t.url}/healthz`, { headers: { Host: 'evil.example:8000' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it('allows only listed CORS origins, never *', async () => {
    const ok = await t.api('/api/status', { method: 'OPTIONS', headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'GET' }, auth: false });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://app.example');
    const no = await t.api('/api/status', { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'GET' }, auth: false });
    expect(no.status).toBe(403);
    expect(no.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sends security headers and a request id', async () => {
    const res = await t.api('/api/status', { headers: { 'X-Request-Id': 'req-abc-1' } });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-request-id')).toBe('req-abc-1');
  });

  it('never leaks a stack trace', async () => {
    const res = await t.api('/api/chat', { method: 'POST', body: '{bad', headers: { 'Content-Type': 'application/json' } });
    const text = await res.text();
    expect(text).not.toMatch(/at .*\.(js|ts):\d+/);
  });
});

describe('request logging', () => {
  it('tags every line a request causes with its id', async () => {
    await t.api('/api/chat', { method: 'POST', json: { message: 'log me' }, headers: { 'X-Request-Id': 'trace-me-42' } });
    const lines = t.logs.filter((l) => l.includes('trace-me-42'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(JSON.parse(l)).toMatchObject({ reqId: 'trace-me-42' });
  });

  it('masks the token where a client put it into a logged field', async () => {
    // A script that pastes the token where a conversation id goes puts it into the request
    // line's `path`, which no redact path covers: only the scrubber does.
    const res = await fetch(`${t.url}/api/conversations/${t.token}`, { headers: { 'X-Request-Id': 'leaky-path-1', Authorization: `Bearer ${t.token}` } });
    expect(res.status).toBe(404);
    await expect.poll(() => t.logs.find((l) => l.includes('leaky-path-1'))).toBeDefined();
    const line = JSON.parse(t.logs.find((l) => l.includes('leaky-path-1')) ?? '{}') as { path?: string; status?: number };
    expect(line).toMatchObject({ path: '/api/conversations/***', status: 404 });
    expect(t.logs.join('')).not.toContain(t.token);
  });
});

describe('metrics', () => {
  it('GET /metrics exposes the documented series', async () => {
    await t.api('/api/chat', { method: 'POST', json: { message: 'count me' } });
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const name of [
      'orchestra_http_request_duration_seconds_bucket',
      'orchestra_socketio_clients',
      'orchestra_chat_time_to_first_token_seconds_bucket',
      'orchestra_chat_tokens_per_second_bucket',
      'orchestra_provider_errors_total',
      'orchestra_cache_requests_total',
      'orchestra_db_query_duration_seconds_bucket',
      'orchestra_db_active_backend{backend="sqlite"} 1',
      'orchestra_breaker_state',
      'orchestra_outbox_backlog',
      'orchestra_governance_verdicts_total',
      'process_resident_memory_bytes',
    ]) {
      expect(text, name).toContain(name);
    }
  });

  it('labels each request with its route, the fast-path routes too', async () => {
    const count = async (route: string, status: number, method = 'GET'): Promise<number> => {
      const text = await (await fetch(`${t.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`orchestra_http_request_duration_seconds_count{method="${method}",route="${route}",status="${status}"}`));
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };
    const before = { status: await count('/api/status', 200), healthz: await count('/healthz', 200), denied: await count('/api/status', 401) };
    expect((await t.api('/api/status')).status).toBe(200);
    expect((await t.api('/api/status')).status).toBe(200);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${t.url}/api/status`)).status).toBe(401);
    // The counts move once 'finish' has fired, which may be just after the client has the body.
    await expect.poll(() => count('/api/status', 200)).toBe(before.status + 2);
    await expect.poll(() => count('/healthz', 200)).toBe(before.healthz + 1);
    await expect.poll(() => count('/api/status', 401)).toBe(before.denied + 1);
    expect((await t.api('/api/conversations')).status).toBe(200);
    await expect.poll(() => count('/api/conversations', 200)).toBeGreaterThan(0);

    // POST /api/chat is on the fast path too: its turns, and the requests its guards refuse.
    const chat = { ok: await count('/api/chat', 200, 'POST'), denied: await count('/api/chat', 401, 'POST'), bad: await count('/api/chat', 400, 'POST') };
    expect((await t.api('/api/chat', { method: 'POST', json: { message: 'hi' } })).status).toBe(200);
    expect((await fetch(`${t.url}/api/chat`, { method: 'POST', body: '{"message":"hi"}', headers: { 'Content-Type': 'application/json' } })).status).toBe(401);
    expect((await t.api('/api/chat', { method: 'POST', json: { message: '' } })).status).toBe(400);
    await expect.poll(() => count('/api/chat', 200, 'POST')).toBe(chat.ok + 1);
    await expect.poll(() => count('/api/chat', 401, 'POST')).toBe(chat.denied + 1);
    await expect.poll(() => count('/api/chat', 400, 'POST')).toBe(chat.bad + 1);
  });

  it('passes promtool check metrics', async () => {
    const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
    expect(promtool, 'promtool is installed by .ci/run (Debian package prometheus)').toBeDefined();
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const file = path.join(t.dataDir, 'metrics.txt');
    writeFileSync(file, text);
    const out = execFileSync('/bin/sh', ['-c', `${promtool} check metrics < ${file} 2>&1; echo "exit=$?"`]).toString();
    expect(out.trim().split('\n').pop()).toBe('exit=0');
  });

  it('GET /api/metrics returns the panel snapshot', async () => {
    const res = await t.api('/api/metrics');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      http: { requests: expect.any(Number) },
      chat: { completed: expect.any(Number) },
      websocket: { clients: 0 },
      database: { backend: 'sqlite' },
      process: { rssBytes: expect.any(Number) },
    });
  });
});

describe('conversations', () => {
  it('lists, pages, renames and deletes', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.api('/api/chat', { method: 'POST', json: { message: `topic ${i}` } });
      expect(res.status).toBe(200);
      ids.push(((await res.json()) as { conversationId: string }).conversationId);
    }
    const page1 = (await (await t.api('/api/conversations?limit=2')).json()) as { items: Array<{ id: string }>; nextCursor: string | null };
    expect(page1.items).toHaveLength(2);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = (await (await t.api(`/api/conversations?limit=2&cursor=${page1.nextCursor}`)).json()) as { items: Array<{ id: string }> };
    expect(page2.items.length).toBeGreaterThanOrEqual(1);
    expect(page2.items.map((c) => c.id)).not.toContain(page1.items[0]?.id);

    const id = ids[0] ?? '';
    const one = (await (await t.api(`/api/conversations/${id}`)).json()) as { title: string; messages: Array<{ role: string }> };
    expect(one.messages.map((m) => m.role)).toEqual(['user', 'assistant']);

    const renamed = await t.api(`/api/conversations/${id}`, { method: 'PATCH', json: { title: 'Renamed' } });
    expect(renamed.status).toBe(200);
    expect(((await (await t.api(`/api/conversations/${id}`)).json()) as { title: string }).title).toBe('Renamed');
    const badRename = await t.api(`/api/conversations/${id}`, { method: 'PATCH', json: { title: '' } });
    expect(badRename.status).toBe(400);

    expect((await t.api(`/api/conversations/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await t.api(`/api/conversations/${id}`)).status).toBe(404);
    expect((await t.api(`/api/conversations/${id}`, { method: 'DELETE' })).status).toBe(404);
  });
});
