import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { PATIENCE_MS } from '../fixtures/patience.js';
import { attrOf, browserSuite, countOf, eventually, pageErrors, sendMessage, textOf, ticksOf, visibleOf } from './harness.js';

const SCREENSHOT = path.join(os.tmpdir(), 'orchestra-main-screen.png');

const assistant = (page: Page, status?: string) =>
  page.locator(`[data-testid=message][data-role=assistant]${status ? `[data-status=${status}]` : ''}`);

describe('chat in the browser', () => {
  const { app, open } = browserSuite();

  it('streams tokens live, shows the final message, and keeps the conversation across a reload', async () => {
    const a = await app({ provider: { tokens: 10, tokenIntervalMs: 150 } });
    const page = await open(a);

    await sendMessage(page, 'Hello there');
    await eventually(textOf(page.locator('[data-testid=message][data-role=user]'))).toMatch(/Hello there/);

    // Tokens are on screen while the reply is still streaming (the stored text only comes with
    // chat:done, which ends the streaming state)…
    const streaming = assistant(page, 'streaming').filter({ hasText: 'tok2' });
    await streaming.waitFor();
    expect(await streaming.getByTestId('message-content').textContent()).toMatch(/^tok0 tok1 tok2/);
    await eventually(visibleOf(page.getByTestId('stop-button'))).toBe(true);

    // …then chat:done replaces it with the stored message.
    const done = assistant(page, 'complete');
    await done.waitFor();
    await eventually(textOf(done.getByTestId('message-content'))).toBe('tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 tok8 tok9 ');
    await eventually(countOf(done.getByTestId('message-status'))).toBe(0);
    await eventually(visibleOf(page.getByTestId('send-button'))).toBe(true);

    const item = page.getByTestId('conversation-item');
    await eventually(countOf(item)).toBe(1);
    await eventually(textOf(item.getByTestId('conversation-title'))).toBe('Hello there');
    expect(page.url()).toMatch(/#\/c\/[0-9a-f-]{36}$/);

    await page.reload();
    await assistant(page, 'complete').waitFor();
    await eventually(countOf(page.getByTestId('message'))).toBe(2);
    await eventually(textOf(assistant(page).getByTestId('message-content'))).toMatch(/tok9/);
    await eventually(countOf(page.getByTestId('conversation-item'))).toBe(1);
    await eventually(textOf(page.getByTestId('chat-title'))).toBe('Hello there');
    expect(pageErrors(page)).toEqual([]);
  });

  it('stops a long reply and marks it cancelled', async () => {
    const a = await app({ provider: { tokens: 5000, tokenIntervalMs: 40 } });
    const page = await open(a);
    const aborted = a.provider?.waitForAbort(PATIENCE_MS);

    await sendMessage(page, 'Tell me a very long story');
    await assistant(page, 'streaming').filter({ hasText: 'tok3' }).waitFor();
    await page.getByTestId('stop-button').click();

    const cancelled = assistant(page, 'cancelled');
    await cancelled.waitFor();
    await eventually(textOf(cancelled.getByTestId('message-status'))).toBe('Cancelled');
    await eventually(textOf(cancelled.getByTestId('message-content'))).toContain('tok0 tok1 tok2 tok3');
    await eventually(visibleOf(page.getByTestId('send-button'))).toBe(true);
    await aborted; // the upstream request was stopped too, not just the UI

    await page.reload();
    await assistant(page, 'cancelled').waitFor();
    expect(pageErrors(page)).toEqual([]);
  });

  it('a token lost on the way does not stall the reply: the window asks for the text so far and keeps streaming', async () => {
    const a = await app({ provider: { tokens: 5000, tokenIntervalMs: 30 } });
    const page = await open(a);
    // Between the server and the page, the reply's token seq 1 goes missing once; every other
    // frame passes unchanged. Tokens after it wait behind the gap until a snapshot fills it.
    let dropped = 0;
    await page.context().routeWebSocket(/\/ws/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((message) => server.send(message));
      server.onMessage((message) => {
        if (dropped === 0 && typeof message === 'string' && message.startsWith('42["chat:token"') && message.includes('"seq":1,')) {
          dropped++;
          return;
        }
        ws.send(message);
      });
    });
    await page.reload();
    await page.locator('[data-testid=status-badge][data-connection=connected]').waitFor();

    await sendMessage(page, 'Tell me a very long story');
    const streaming = assistant(page, 'streaming').filter({ hasText: 'tok12' });
    await streaming.waitFor();
    expect(dropped).toBe(1);
    expect(await streaming.getByTestId('message-content').textContent()).toMatch(/^tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 tok8 tok9 tok10 tok11 tok12/);

    await page.getByTestId('stop-button').click();
    await assistant(page, 'cancelled').waitFor();
    expect(pageErrors(page)).toEqual([]);
  });

  it('renders code as <pre><code>, never as HTML, shows a chat error clearly, and renders validation findings', async () => {
    const a = await app({ provider: { echo: true, tokenIntervalMs: 5 } });
    const page = await open(a);
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });

    const hostile = 'Here is code:\n\n```ts\nexport const add = (a: number, b: number): number => a + b;\n```\n\nand <img src=x onerror="alert(1)"> <b>bold</b> plus `inline`.';
    await sendMessage(page, hostile);
    const reply = assistant(page, 'complete');
    await reply.waitFor();
    const block = reply.getByTestId('code-block');
    await eventually(attrOf(block, 'data-language')).toBe('ts');
    await eventually(textOf(block.locator('pre > code'))).toBe('export const add = (a: number, b: number): number => a + b;');
    await eventually(textOf(reply.getByTestId('message-content'))).toContain('<img src=x onerror="alert(1)"> <b>bold</b>');
    await eventually(countOf(page.locator('[data-testid=message-list] img, [data-testid=message-list] b'))).toBe(0);
    expect(dialogs).toEqual([]);

    // The backend's governance verdict for the code block is shown: clean code passes.
    await eventually(attrOf(reply.getByTestId('validation'), 'data-verdict')).toBe('pass');
    // A reply whose code the rules reject (the provider echoes it back) shows the real findings,
    // with their position in the reply.
    await sendMessage(page, 'Run this:\n\n```js\nconst input = 1;\neval(input);\n```');
    const rejected = assistant(page, 'complete').last();
    await eventually(textOf(rejected.getByTestId('message-content'))).toContain('eval(input);');
    const validation = rejected.getByTestId('validation');
    await eventually(attrOf(validation, 'data-verdict')).toBe('fail');
    await eventually(textOf(validation)).toMatch(/Code checks failed · [1-9]\d* errors?/);
    await validation.locator('summary').click();
    await eventually(countOf(validation.getByTestId('finding'))).toBeGreaterThanOrEqual(1);
    const noEval = validation.getByTestId('finding').filter({ hasText: 'no-eval' });
    await eventually(countOf(noEval)).toBe(1);
    // The finding names its block and the line within it: eval(input) is line 2 of the first block
    // (line 5 of the reply: "Run this:", "", "```js", "const input = 1;", "eval(input);").
    await eventually(textOf(noEval)).toContain('block 1, line 2:1');
    // The stored verdict comes back after a reload.
    await page.reload();
    await eventually(attrOf(assistant(page, 'complete').last().getByTestId('validation'), 'data-verdict')).toBe('fail');

    await eventually(ticksOf(page)).toBeGreaterThanOrEqual(2);
    await page.screenshot({ path: SCREENSHOT });

    // The provider fails: the reply is marked failed and the error is explained.
    a.provider?.set({ mode: 'http-error', errorStatus: 500 });
    await sendMessage(page, 'This one fails');
    const failed = assistant(page, 'error');
    await failed.waitFor();
    await eventually(textOf(failed.getByTestId('message-status'))).toBe('Failed');
    await eventually(attrOf(page.getByTestId('chat-error'), 'data-code')).toBe('provider-error');
    await eventually(textOf(page.getByTestId('chat-error'))).toContain('The model provider returned an error');
    expect(pageErrors(page)).toEqual([]);
  });
});
