import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PrivatePostgres } from '../fixtures/services/postgres.js';
import { startTestServer, waitFor, type TestServer } from '../fixtures/test-server.js';

// GET /api/search on SQLite (FTS5 trigram) and in PostgreSQL mode (tsvector simple + pg_trgm).
let pg: PrivatePostgres;

beforeAll(async () => {
  pg = await startPostgres();
});

afterAll(async () => {
  await pg?.stop();
});

interface Hit {
  conversationId: string;
  messageId: string | null;
  title: string;
  snippet: string;
  createdAt: string;
}

for (const mode of ['sqlite', 'postgres'] as const) {
  describe(`search (${mode})`, () => {
    let t: TestServer;

    beforeAll(async () => {
      const database = mode === 'postgres' ? await pg.createDatabase('search') : '';
      t = await startTestServer({
        provider: { echo: true },
        overrides: mode === 'postgres' ? { databaseUrl: pg.url(database), dbPullIntervalMs: 300 } : {},
      });
    });

    afterAll(async () => {
      await t?.close();
    });

    const search = async (q: string, limit?: number): Promise<Hit[]> => {
      const res = await t.api(`/api/search?q=${encodeURIComponent(q)}${limit ? `&limit=${limit}` : ''}`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { items: Hit[] }).items;
    };
    const send = async (message: string, conversationId?: string): Promise<{ conversationId: string; message: { id: string } }> =>
      (await (await t.api('/api/chat', { method: 'POST', json: { message, conversationId } })).json()) as { conversationId: string; message: { id: string } };
    // PostgreSQL mode reads from PostgreSQL, which the outbox fills a moment after the write.
    const eventually = (q: string, check: (hits: Hit[]) => boolean): Promise<Hit[]> =>
      waitFor(async () => {
        const hits = await search(q);
        return check(hits) ? hits : undefined;
      }, `search ${q}`);

    it('finds message text and titles, ranked, with snippets', async () => {
      const a = await send('The quokka is a small marsupial from Western Australia');
      await send('Unrelated chatter about teapots');
      const hits = await eventually('quokka marsupial', (h) => h.some((x) => x.messageId !== null));
      const message = hits.find((h) => h.messageId !== null);
      expect(message).toMatchObject({ conversationId: a.conversationId, title: expect.stringContaining('quokka') });
      expect(message?.snippet).toMatch(/quokka/i);
      expect(hits.some((h) => h.messageId === null && h.conversationId === a.conversationId)).toBe(true);
      expect(hits.every((h) => h.conversationId === a.conversationId)).toBe(true);
      expect(await search('teapot')).not.toEqual([]);
    });

    it('finds non-Latin scripts: Chinese inside a sentence, Cyrillic, Greek', async () => {
      const zh = await send('我非常喜欢使用数据库来存储对话记录');
      const ru = await send('Привет, как настроить базу данных?');
      await eventually('数据库', (h) => h.some((x) => x.conversationId === zh.conversationId));
      await eventually('базу', (h) => h.some((x) => x.conversationId === ru.conversationId));
      const el = await send('Καλημέρα κόσμε');
      await eventually('κόσμε', (h) => h.some((x) => x.conversationId === el.conversationId));
    });

    it('keeps the index in step with edits and deletes', async () => {
      const c = await send('ephemeral zebrafish notes');
      await eventually('zebrafish', (h) => h.some((x) => x.conversationId === c.conversationId));
      await t.api(`/api/conversations/${c.conversationId}`, { method: 'PATCH', json: { title: 'Renamed okapi' } });
      await eventually('okapi', (h) => h.some((x) => x.conversationId === c.conversationId && x.messageId === null));
      await t.api(`/api/conversations/${c.conversationId}`, { method: 'DELETE' });
      await eventually('zebrafish', (h) => h.every((x) => x.conversationId !== c.conversationId));
    });

    it('finds a reply once it has finished, not its draft while it streams', async () => {
      t.provider?.set({ echo: false, mode: 'stall-after', stallAfterTokens: 2, tokenText: () => 'narwhal ' });
      const res = await t.api('/api/chat', { method: 'POST', json: { message: 'tell me about the sea unicorn', stream: true } });
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      try {
        // The first token names the reply.
        let text = '';
        const decoder = new TextDecoder();
        while (!/"messageId":"[^"]+"/.test(text)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`the stream ended before a token: ${text}`);
          text += decoder.decode(value, { stream: true });
        }
        const { conversationId, messageId } = JSON.parse(/data: (\{.*"messageId".*\})\n/.exec(text)?.[1] ?? '{}') as { conversationId: string; messageId: string };
        // Its draft is stored (and in PostgreSQL mode pushed) while it streams...
        await waitFor(async () => {
          const conversation = (await (await t.api(`/api/conversations/${conversationId}`)).json()) as { messages: Array<{ id: string; status: string; content: string }> };
          const reply = conversation.messages.find((m) => m.id === messageId);
          return reply?.status === 'streaming' && reply.content.includes('narwhal') ? true : undefined;
        }, 'the draft to be stored');
        // ...but a search does not find it, while the turn's user message is found.
        const during = await search('narwhal');
        expect(during.filter((h) => h.messageId === messageId)).toEqual([]);
        expect((await search('unicorn')).some((h) => h.conversationId === conversationId)).toBe(true);
        expect((await t.api(`/api/chat/${messageId}/cancel`, { method: 'POST' })).status).toBe(202);
        const after = await eventually('narwhal', (h) => h.some((x) => x.messageId === messageId));
        expect(after.find((h) => h.messageId === messageId)?.snippet).toMatch(/narwhal/);
      } finally {
        await reader.cancel().catch(() => undefined);
        t.provider?.set({ echo: true, mode: 'ok' });
      }
    });

    it('any query text is safe: never a 5xx', async () => {
      for (const q of ['"', 'a AND OR NOT', '*', 'NEAR(', "'; DROP TABLE messages; --", '%_\\', '(((', 'ab', '-', '\u0000x', 'a'.repeat(1000), '""""', 'title:x', '^']) {
        const res = await t.api(`/api/search?q=${encodeURIComponent(q)}`);
        expect(res.status, q).toBe(200);
      }
      expect((await t.api('/api/search')).status).toBe(400);
      expect((await t.api('/api/search?q=x&limit=0')).status).toBe(400);
      const limited = await search('the', 1);
      expect(limited.length).toBeLessThanOrEqual(1);
    });
  });
}
