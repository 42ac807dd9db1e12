import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BranchMessage } from '../../backend/data/store.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

// Export (Markdown, Orchestra JSON) and import (Orchestra JSON, ChatGPT conversations.json).
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ provider: { echo: true } });
});

afterAll(async () => {
  await t?.close();
});

interface Page {
  id: string;
  title: string;
  activeLeafId: string | null;
  messages: BranchMessage[];
}

const page = async (id: string): Promise<Page> => (await (await t.api(`/api/conversations/${id}`)).json()) as Page;
const importBody = async (json: unknown): Promise<{ status: number; imported: string[] }> => {
  const res = await t.api('/api/conversations/import', { method: 'POST', json });
  const body = (await res.json()) as { imported: string[] };
  return { status: res.status, imported: body.imported };
};

/** A ChatGPT export: a system root, a user question, two assistant answers (branches), current_node on the second. */
const chatgpt = [
  {
    id: 'cg-1',
    title: 'Rust lifetimes',
    create_time: 1_700_000_000.5,
    update_time: 1_700_000_100,
    current_node: 'a2',
    mapping: {
      root: { id: 'root', message: null, parent: null, children: ['sys'] },
      sys: { id: 'sys', message: { author: { role: 'system' }, content: { content_type: 'text', parts: ['You are ChatGPT'] } }, parent: 'root', children: ['u1'] },
      u1: {
        id: 'u1',
        message: { author: { role: 'user' }, content: { content_type: 'text', parts: ['What is a lifetime?'] }, create_time: 1_700_000_001 },
        parent: 'sys',
        children: ['a1', 'a2'],
      },
      a1: {
        id: 'a1',
        message: { author: { role: 'assistant' }, content: { content_type: 'text', parts: ['First answer'] }, create_time: 1_700_000_002, metadata: {} },
        parent: 'u1',
        children: [],
      },
      a2: {
        id: 'a2',
        message: { author: { role: 'assistant' }, content: { content_type: 'text', parts: ['Second answer'] }, create_time: 1_700_000_003, metadata: { model_slug: 'gpt-4o' } },
        parent: 'u1',
        children: [],
      },
    },
  },
];

describe('export and import', () => {
  it('exports Markdown of the active branch and JSON of the whole tree; the JSON imports back with fresh ids, once', async () => {
    const first = (await (await t.api('/api/chat', { method: 'POST', json: { message: 'hello export' } })).json()) as { conversationId: string };
    const before = await page(first.conversationId);
    await t.api(`/api/chat/${before.messages[1]?.id}/regenerate`, { method: 'POST', json: {} });

    const md = await t.api(`/api/conversations/${first.conversationId}/export?format=md`);
    expect(md.status).toBe(200);
    expect(md.headers.get('content-type')).toMatch(/text\/markdown/);
    expect(await md.text()).toBe('# hello export\n\n## User\n\nhello export\n\n## Assistant\n\nhello export\n');

    const res = await t.api(`/api/conversations/${first.conversationId}/export?format=json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/attachment/);
    const exported = (await res.json()) as { format: string; messages: unknown[] };
    expect(exported.format).toBe('orchestra.conversation');
    expect(exported.messages).toHaveLength(3);

    const once = await importBody(exported);
    expect(once.status).toBe(201);
    expect(once.imported).toHaveLength(1);
    const id = once.imported[0] ?? '';
    expect(id).not.toBe(first.conversationId);
    const copy = await page(id);
    expect(copy.title).toBe('hello export');
    expect(copy.messages.map((m) => m.content)).toEqual(['hello export', 'hello export']);
    expect(copy.messages[1]?.siblings.count).toBe(2);
    expect(copy.messages.every((m) => !before.messages.some((b) => b.id === m.id))).toBe(true);

    const twice = await importBody(exported);
    expect(twice.imported).toEqual([id]);
    expect((await t.api(`/api/conversations/${first.conversationId}/export?format=xml`)).status).toBe(400);
    expect((await t.api('/api/conversations/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/export')).status).toBe(404);
  });

  it('imports a ChatGPT export: every branch kept, system nodes skipped, current_node active, idempotent', async () => {
    const once = await importBody(chatgpt);
    expect(once.status).toBe(201);
    const id = once.imported[0] ?? '';
    const p = await page(id);
    expect(p.title).toBe('Rust lifetimes');
    expect(p.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'What is a lifetime?'],
      ['assistant', 'Second answer'],
    ]);
    expect(p.messages[0]?.parentId).toBeNull();
    expect(p.messages[1]?.siblings).toMatchObject({ index: 2, count: 2 });
    expect(p.messages[1]?.model).toBe('gpt-4o');
    expect(p.activeLeafId).toBe(p.messages[1]?.id);

    const twice = await importBody(chatgpt);
    expect(twice.imported).toEqual([id]);
    const list = (await (await t.api('/api/conversations?limit=100')).json()) as { items: Array<{ title: string }> };
    expect(list.items.filter((c) => c.title === 'Rust lifetimes')).toHaveLength(1);
  });

  it('refuses what is neither format with 400', async () => {
    expect((await t.api('/api/conversations/import', { method: 'POST', json: { hello: 'world' } })).status).toBe(400);
    expect((await t.api('/api/conversations/import', { method: 'POST', json: [] })).status).toBe(400);
  });
});
