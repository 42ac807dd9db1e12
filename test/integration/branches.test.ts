import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BranchMessage, Message } from '../../backend/data/store.js';
import { startPostgres, type PrivatePostgres } from '../fixtures/services/postgres.js';
import { readSse, startTestServer, waitFor, type TestServer } from '../fixtures/test-server.js';

// Messages form a tree; a conversation shows its active branch. Run on SQLite and in PostgreSQL
// mode (where the outbox must carry parentId, activeLeafId, model and systemPrompt).
let pg: PrivatePostgres;

beforeAll(async () => {
  pg = await startPostgres();
});

afterAll(async () => {
  await pg?.stop();
});

interface Page {
  id: string;
  activeLeafId: string | null;
  model: string | null;
  systemPrompt: string | null;
  messages: BranchMessage[];
}

type ProviderMessage = { role: string; content: string };

async function page(t: TestServer, id: string): Promise<Page> {
  const res = await t.api(`/api/conversations/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Page;
}

async function send(t: TestServer, body: Record<string, unknown>): Promise<{ conversationId: string; message: Message }> {
  const res = await t.api('/api/chat', { method: 'POST', json: body });
  expect(res.status).toBe(200);
  return (await res.json()) as { conversationId: string; message: Message };
}

function lastPrompt(t: TestServer): { model?: string; messages: ProviderMessage[] } {
  const req = t.provider?.requests.filter((r) => r.path.endsWith('/chat/completions')).at(-1);
  return req?.body as { model?: string; messages: ProviderMessage[] };
}

const contents = (p: Page): string[] => p.messages.map((m) => `${m.role}:${m.content}`);

for (const mode of ['sqlite', 'postgres'] as const) {
  describe(`branches (${mode})`, () => {
    let t: TestServer;
    let database = '';

    beforeAll(async () => {
      database = mode === 'postgres' ? await pg.createDatabase('branches') : '';
      t = await startTestServer({
        provider: { echo: true },
        overrides: mode === 'postgres' ? { databaseUrl: pg.url(database), dbPullIntervalMs: 300 } : {},
      });
    });

    afterAll(async () => {
      await t?.close();
    });

    it('a linear conversation is one branch: each message follows the one before, siblings 1 of 1', async () => {
      const first = await send(t, { message: 'one' });
      await send(t, { message: 'two', conversationId: first.conversationId });
      const p = await page(t, first.conversationId);
      expect(contents(p)).toEqual(['user:one', 'assistant:one', 'user:two', 'assistant:two']);
      expect(p.messages[0]?.parentId).toBeNull();
      for (let i = 1; i < p.messages.length; i++) expect(p.messages[i]?.parentId).toBe(p.messages[i - 1]?.id);
      for (const m of p.messages) expect(m.siblings).toEqual({ index: 1, count: 1, ids: [m.id] });
      expect(p.activeLeafId).toBe(p.messages.at(-1)?.id);
    });

    it('edit-and-resend makes a new branch; the provider sees only that branch; activeLeafId switches back', async () => {
      const first = await send(t, { message: 'alpha' });
      const second = await send(t, { message: 'beta', conversationId: first.conversationId });
      const before = await page(t, first.conversationId);
      const betaUser = before.messages[2];
      expect(betaUser?.content).toBe('beta');

      // Edit "beta": send the new text with beta's parent (the first reply).
      const edited = await send(t, { message: 'gamma', conversationId: first.conversationId, parentId: betaUser?.parentId });
      expect(lastPrompt(t).messages).toEqual([
        { role: 'user', content: 'alpha' },
        { role: 'assistant', content: 'alpha' },
        { role: 'user', content: 'gamma' },
      ]);
      const after = await page(t, first.conversationId);
      expect(contents(after)).toEqual(['user:alpha', 'assistant:alpha', 'user:gamma', 'assistant:gamma']);
      expect(after.activeLeafId).toBe(edited.message.id);
      expect(after.messages[2]?.siblings).toEqual({ index: 2, count: 2, ids: [betaUser?.id, after.messages[2]?.id] });

      // Back to the first branch.
      const patched = await t.api(`/api/conversations/${first.conversationId}`, { method: 'PATCH', json: { activeLeafId: second.message.id } });
      expect(patched.status).toBe(200);
      expect(contents(await page(t, first.conversationId))).toEqual(['user:alpha', 'assistant:alpha', 'user:beta', 'assistant:beta']);
      // Naming a message in the middle shows the newest branch below it.
      await t.api(`/api/conversations/${first.conversationId}`, { method: 'PATCH', json: { activeLeafId: after.messages[2]?.id } });
      expect((await page(t, first.conversationId)).activeLeafId).toBe(edited.message.id);

      const bad = await t.api(`/api/conversations/${first.conversationId}`, { method: 'PATCH', json: { activeLeafId: first.conversationId } });
      expect(bad.status).toBe(400);
      const unknownParent = await t.api('/api/chat', { method: 'POST', json: { message: 'x', conversationId: first.conversationId, parentId: first.conversationId } });
      expect(unknownParent.status).toBe(404);
    });

    it('parentId null starts a new branch at the root', async () => {
      const first = await send(t, { message: 'root one' });
      await send(t, { message: 'root two', conversationId: first.conversationId, parentId: null });
      expect(lastPrompt(t).messages).toEqual([{ role: 'user', content: 'root two' }]);
      const p = await page(t, first.conversationId);
      expect(contents(p)).toEqual(['user:root two', 'assistant:root two']);
      expect(p.messages[0]?.siblings.count).toBe(2);
      expect(p.messages[0]?.siblings.index).toBe(2);
    });

    it('regenerate makes a new reply beside the old one, with the same history, answered like POST /api/chat', async () => {
      const first = await send(t, { message: 'question' });
      await send(t, { message: 'follow-up', conversationId: first.conversationId });
      const p = await page(t, first.conversationId);
      const reply = p.messages[3];
      expect(reply?.role).toBe('assistant');

      const res = await t.api(`/api/chat/${reply?.id}/regenerate`, { method: 'POST', json: {} });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { conversationId: string; message: Message };
      expect(body.conversationId).toBe(first.conversationId);
      expect(body.message).toMatchObject({ role: 'assistant', status: 'complete', parentId: reply?.parentId, content: 'follow-up' });
      expect(lastPrompt(t).messages).toEqual([
        { role: 'user', content: 'question' },
        { role: 'assistant', content: 'question' },
        { role: 'user', content: 'follow-up' },
      ]);
      const after = await page(t, first.conversationId);
      expect(after.activeLeafId).toBe(body.message.id);
      expect(after.messages[3]?.siblings).toEqual({ index: 2, count: 2, ids: [reply?.id, body.message.id] });
      expect(after.messages).toHaveLength(4);

      const streamed = await readSse(await t.api(`/api/chat/${body.message.id}/regenerate`, { method: 'POST', json: { stream: true } }));
      expect(streamed.at(-1)?.event).toBe('done');
      expect((await page(t, first.conversationId)).messages[3]?.siblings.count).toBe(3);

      const notAssistant = await t.api(`/api/chat/${p.messages[0]?.id}/regenerate`, { method: 'POST', json: {} });
      expect(notAssistant.status).toBe(400);
      const missing = await t.api('/api/chat/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/regenerate', { method: 'POST', json: {} });
      expect(missing.status).toBe(404);
    });

    it('a conversation model and system prompt are used on every turn', async () => {
      const first = await send(t, { message: 'setup' });
      const res = await t.api(`/api/conversations/${first.conversationId}`, {
        method: 'PATCH',
        json: { model: 'fake-model-2', systemPrompt: 'You are terse.', title: 'Configured' },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ title: 'Configured', model: 'fake-model-2', systemPrompt: 'You are terse.' });
      await send(t, { message: 'next', conversationId: first.conversationId });
      const prompt = lastPrompt(t);
      expect(prompt.model).toBe('fake-model-2');
      expect(prompt.messages[0]).toEqual({ role: 'system', content: 'You are terse.' });
      expect(prompt.messages.slice(1).map((m) => m.content)).toEqual(['setup', 'setup', 'next']);
      const p = await page(t, first.conversationId);
      expect(p).toMatchObject({ model: 'fake-model-2', systemPrompt: 'You are terse.' });
      expect(p.messages.at(-1)?.model).toBe('fake-model-2');

      await t.api(`/api/conversations/${first.conversationId}`, { method: 'PATCH', json: { systemPrompt: null, model: null } });
      await send(t, { message: 'plain', conversationId: first.conversationId });
      expect(lastPrompt(t).messages[0]?.role).toBe('user');

      const empty = await t.api(`/api/conversations/${first.conversationId}`, { method: 'PATCH', json: {} });
      expect(empty.status).toBe(400);
    });

    if (mode === 'postgres') {
      it('the outbox carries parentId, activeLeafId, model and systemPrompt to PostgreSQL', async () => {
        const first = await send(t, { message: 'replicate me' });
        await t.api(`/api/conversations/${first.conversationId}`, { method: 'PATCH', json: { model: 'fake-model', systemPrompt: 'sys' } });
        const local = await page(t, first.conversationId);
        const rows = await waitFor(async () => {
          const r = await pg.query(database, 'SELECT active_leaf_id, model, system_prompt FROM conversations WHERE id = $1', [first.conversationId]);
          return r[0]?.system_prompt === 'sys' ? r : undefined;
        }, 'the conversation in PostgreSQL');
        expect(rows[0]).toEqual({ active_leaf_id: local.activeLeafId, model: 'fake-model', system_prompt: 'sys' });
        const messages = await pg.query<{ id: string; parent_id: string | null }>(
          database,
          'SELECT id, parent_id FROM messages WHERE conversation_id = $1 ORDER BY id',
          [first.conversationId],
        );
        expect(messages.map((m) => m.parent_id)).toEqual([null, local.messages[0]?.id]);
      });
    }
  });
}
