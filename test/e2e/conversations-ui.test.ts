import type { Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attrOf, browserSuite, countOf, eventually, sendMessage, textOf, valueOf } from './harness.js';

/**
 * The UI over the conversation engine's second contract part (DESIGN.md, "Contract, second
 * part"): resumable replies, `message:created`, branches (regenerate, edit, versions), search,
 * export and import, per-conversation model and system prompt, and the settings API. These need
 * that engine; they are written against the contract and pass once it is in the tree.
 */

const assistant = (page: Page, status?: string) =>
  page.locator(`[data-testid=message][data-role=assistant]${status ? `[data-status=${status}]` : ''}`);
const user = (page: Page) => page.locator('[data-testid=message][data-role=user]');
const words = (n: number, prefix = 'tok'): string => Array.from({ length: n }, (_, i) => `${prefix}${i} `).join('');

/** A ChatGPT data export (conversations.json) with one branch point: the mapping tree and current_node. */
const CHATGPT_EXPORT = [
  {
    title: 'Imported from ChatGPT',
    create_time: 1_700_000_000,
    current_node: 'a2',
    mapping: {
      root: { id: 'root', parent: null, children: ['sys'], message: null },
      sys: { id: 'sys', parent: 'root', children: ['u1'], message: { author: { role: 'system' }, content: { content_type: 'text', parts: [''] } } },
      u1: { id: 'u1', parent: 'sys', children: ['a1', 'a2'], message: { author: { role: 'user' }, content: { content_type: 'text', parts: ['What is a fjord?'] } } },
      a1: { id: 'a1', parent: 'u1', children: [], message: { author: { role: 'assistant' }, content: { content_type: 'text', parts: ['An inlet.'] } } },
      a2: { id: 'a2', parent: 'u1', children: [], message: { author: { role: 'assistant' }, content: { content_type: 'text', parts: ['A long, narrow sea inlet between cliffs.'] } } },
    },
  },
];

describe('conversations in the UI (engine contract, second part)', () => {
  const { app, open } = browserSuite();

  it('a reply keeps streaming across a reload and ends complete, with no gap and no repeat', async () => {
    const a = await app({ provider: { tokens: 200, tokenIntervalMs: 25 } });
    const page = await open(a);
    await sendMessage(page, 'Count for me');
    await assistant(page, 'streaming').filter({ hasText: 'tok5 ' }).waitFor();
    await page.reload();
    // Caught up from the join ack: the text starts at the beginning, not where we came back.
    const resumed = assistant(page, 'streaming');
    await resumed.waitFor();
    await eventually(textOf(resumed.getByTestId('message-content'))).toMatch(/^tok0 tok1 tok2 tok3 tok4 tok5 /);
    await assistant(page, 'complete').waitFor();
    await eventually(textOf(assistant(page, 'complete').getByTestId('message-content'))).toBe(words(200));
  });

  it('a second viewer sees every turn: the user message, the streaming reply, the end', async () => {
    const a = await app({ provider: { tokens: 40, tokenIntervalMs: 20 } });
    const first = await open(a);
    await sendMessage(first, 'Opening question');
    await assistant(first, 'complete').waitFor();
    const second = await open(a);
    await second.goto(first.url());
    await assistant(second, 'complete').waitFor();

    await sendMessage(first, 'Follow-up from the first window');
    await eventually(textOf(user(second))).toContain('Follow-up from the first window');
    await eventually(countOf(assistant(second))).toBe(2);
    await eventually(textOf(assistant(second).nth(1).getByTestId('message-content'))).toBe(words(40));
  });

  it('searches across conversations and opens a hit', async () => {
    const a = await app({ provider: { tokens: 2 } });
    const page = await open(a);
    await sendMessage(page, 'Tell me about quokkas');
    await assistant(page, 'complete').waitFor();
    await page.getByTestId('new-chat').click();
    await sendMessage(page, 'Something about lighthouses');
    await assistant(page, 'complete').waitFor();

    await page.keyboard.press('Control+K');
    await page.getByTestId('search-input').fill('quokkas');
    // The title and the first message both match: one result for the conversation, which says so.
    const hit = page.getByTestId('search-result');
    await eventually(countOf(hit)).toBe(1);
    await eventually(textOf(hit)).toContain('quokkas');
    await eventually(textOf(hit.getByTestId('search-matches'))).toBe('title · 1 message');
    await hit.click();
    await eventually(textOf(user(page))).toContain('Tell me about quokkas');
    // Opened at the message that matched, marked.
    await eventually(attrOf(page.locator('[data-testid=message][data-found=true]'), 'data-role')).toBe('user');
    await eventually(textOf(page.locator('[data-testid=message][data-found=true]').getByTestId('message-content'))).toBe('Tell me about quokkas');
  });

  it('a search hit on another branch opens that branch', async () => {
    const a = await app({ provider: { echo: true } });
    const page = await open(a);
    await sendMessage(page, 'about narwhals');
    await assistant(page, 'complete').waitFor();
    await user(page).getByTestId('edit-message').click();
    await page.getByTestId('composer-input').fill('about walruses');
    await page.getByTestId('send-button').click();
    await eventually(textOf(user(page).getByTestId('version-label'))).toBe('2/2');

    await page.getByTestId('search-input').fill('narwhals');
    await page.getByTestId('search-result').click();
    await eventually(textOf(user(page).getByTestId('message-content'))).toBe('about narwhals');
    await eventually(textOf(user(page).getByTestId('version-label'))).toBe('1/2');
    await eventually(attrOf(user(page), 'data-found')).toBe('true');
  });

  it('regenerates a reply and switches between its versions', async () => {
    const a = await app({ provider: { tokens: 3 } });
    const page = await open(a);
    await sendMessage(page, 'Give me a name');
    await eventually(textOf(assistant(page, 'complete').getByTestId('message-content'))).toBe(words(3));
    a.provider?.set({ tokenText: (i) => `second${i} ` });
    await assistant(page, 'complete').getByTestId('regenerate').click();
    await eventually(textOf(assistant(page, 'complete').getByTestId('message-content'))).toBe(words(3, 'second'));
    const switcher = assistant(page, 'complete').getByTestId('version-switcher');
    await eventually(textOf(switcher.getByTestId('version-label'))).toBe('2/2');
    await switcher.getByRole('button', { name: 'Previous version' }).click();
    await eventually(textOf(assistant(page, 'complete').getByTestId('message-content'))).toBe(words(3));
    await eventually(textOf(assistant(page).getByTestId('version-label'))).toBe('1/2');
    await page.reload();
    await eventually(textOf(assistant(page).getByTestId('version-label'))).toBe('1/2');
  });

  it('edits a sent message and resends it as a new branch', async () => {
    const a = await app({ provider: { echo: true } });
    const page = await open(a);
    await sendMessage(page, 'first wording');
    await assistant(page, 'complete').waitFor();
    await user(page).getByTestId('edit-message').click();
    await eventually(valueOf(page.getByTestId('composer-input'))).toBe('first wording');
    await page.getByTestId('composer-input').fill('second wording');
    await page.getByTestId('send-button').click();
    await eventually(textOf(assistant(page, 'complete').getByTestId('message-content'))).toBe('second wording');
    await eventually(countOf(user(page))).toBe(1);
    await eventually(textOf(user(page).getByTestId('version-label'))).toBe('2/2');
    await page.reload();
    await eventually(textOf(user(page).getByTestId('message-content'))).toBe('second wording');
    // Back to the first version: its question and only its reply.
    await user(page).getByRole('button', { name: 'Previous version' }).click();
    await eventually(textOf(user(page).getByTestId('message-content'))).toBe('first wording');
    await eventually(textOf(assistant(page).getByTestId('message-content'))).toBe('first wording');
    await eventually(textOf(user(page).getByTestId('version-label'))).toBe('1/2');
    expect(await assistant(page).count()).toBe(1);
  });

  it('imports a ChatGPT export with the file picker and by drag and drop', async () => {
    const a = await app();
    const page = await open(a);
    const json = JSON.stringify(CHATGPT_EXPORT);
    await page.getByTestId('import-input').setInputFiles({ name: 'conversations.json', mimeType: 'application/json', buffer: Buffer.from(json) });
    await eventually(textOf(page.getByTestId('import-status'))).toContain('Imported 1 conversation');
    await eventually(textOf(page.getByTestId('conversation-title'))).toContain('Imported from ChatGPT');
    await eventually(textOf(assistant(page).getByTestId('message-content'))).toBe('A long, narrow sea inlet between cliffs.');

    const drop = async (body: string): Promise<void> => {
      const dataTransfer = await page.evaluateHandle(
        `(() => { const dt = new DataTransfer(); dt.items.add(new File([${JSON.stringify(body)}], 'conversations.json', { type: 'application/json' })); return dt; })()`,
      );
      await page.dispatchEvent('[data-testid=app-root]', 'drop', { dataTransfer });
    };
    // Another export, dropped on the window, adds its conversation.
    const other = [{ ...CHATGPT_EXPORT[0], title: 'Second ChatGPT chat', create_time: 1_700_000_500 }];
    await drop(JSON.stringify(other));
    await eventually(countOf(page.getByTestId('conversation-item'))).toBe(2);
    await eventually(textOf(page.getByTestId('chat-title'))).toBe('Second ChatGPT chat');
    // The same file again adds nothing (docs/api.md: one copy per source), and says so.
    await drop(json);
    await eventually(textOf(page.getByTestId('import-status'))).toContain('imported before');
    expect(await page.getByTestId('conversation-item').count()).toBe(2);
  });

  it('exports a conversation as Markdown and JSON', async () => {
    const a = await app({ provider: { tokens: 2 } });
    const page = await open(a);
    await sendMessage(page, 'Export me');
    await assistant(page, 'complete').waitFor();
    for (const [testId, needle] of [
      ['export-md', 'Export me'],
      ['export-json', '"Export me"'],
    ] as const) {
      await page.getByTestId('export-button').click();
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
      const file = await download.path();
      expect(readFileSync(file, 'utf8')).toContain(needle);
    }
  });

  it('keeps a model and a system prompt per conversation and sends them', async () => {
    const a = await app({ provider: { tokens: 2 } });
    const page = await open(a);
    await sendMessage(page, 'Hello');
    await assistant(page, 'complete').waitFor();
    await page.getByTestId('model-picker').selectOption('fake-model-2');
    await page.getByTestId('system-prompt-button').click();
    await page.getByTestId('system-prompt-input').fill('Answer like a pirate.');
    await page.getByTestId('system-prompt-save').click();
    await page.reload();
    await eventually(valueOf(page.getByTestId('model-picker'))).toBe('fake-model-2');
    await sendMessage(page, 'Again');
    await eventually(countOf(assistant(page, 'complete'))).toBe(2);
    const last = a.provider?.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)?.body as
      | { model?: string; messages?: Array<{ role: string; content: string }> }
      | undefined;
    expect(last?.model).toBe('fake-model-2');
    expect(last?.messages?.[0]).toEqual({ role: 'system', content: 'Answer like a pirate.' });
  });
});
