import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { PATIENCE_MS } from '../fixtures/patience.js';
import { attrOf, browserSuite, countOf, eventually, pageErrors, sendMessage, textOf, ticksOf, valueOf, visibleOf } from './harness.js';

const assistant = (page: Page, status: string) => page.locator(`[data-testid=message][data-role=assistant][data-status=${status}]`);

describe('the workspace around the chat: pairing, provider set-up, conversations, metrics', () => {
  const suite = browserSuite();

  it('explains how to pair when the browser has no token cookie (401)', async () => {
    const a = await suite.app();
    const context = await suite.browser().newContext();
    context.setDefaultTimeout(PATIENCE_MS);
    const page = await context.newPage();
    await page.goto(`${a.url}/`);
    const screen = page.getByTestId('pairing-screen');
    await screen.waitFor();
    await eventually(textOf(screen)).toContain('pairing link');
    await eventually(textOf(screen)).toContain('orchestra serve');
    await eventually(textOf(screen)).toContain('orchestra pair');
    await eventually(countOf(page.getByTestId('app-root'))).toBe(0);

    // A wrong code does not pair, nor does the old link with the token; a fresh code does.
    await page.goto(`${a.url}/pair?code=not-a-code`);
    await page.goto(`${a.url}/pair?token=${encodeURIComponent(a.server.token)}`);
    await page.goto(`${a.url}/`);
    await page.getByTestId('pairing-screen').waitFor();
    await page.goto(await a.pairUrl());
    await page.getByTestId('app-root').waitFor();
    await context.close();
  });

  it('explains how to configure a provider when chat answers no-provider', async () => {
    const a = await suite.app({ provider: false });
    const page = await suite.open(a);

    await sendMessage(page, 'Is anybody there?');
    const help = page.getByTestId('no-provider-help');
    await help.waitFor();
    await eventually(textOf(help)).toContain('LLM_BASE_URL');
    await eventually(textOf(help)).toContain('Ollama');
    await eventually(textOf(help)).toContain('LM Studio');
    await eventually(textOf(help)).toContain('no-provider');
    // Nothing was stored, and the text is back in the box to send again once a provider exists.
    await eventually(countOf(page.getByTestId('message'))).toBe(0);
    await eventually(valueOf(page.getByTestId('composer-input'))).toBe('Is anybody there?');
    await eventually(visibleOf(page.getByTestId('conversation-list-empty'))).toBe(true);
    expect(pageErrors(page)).toEqual([]);
  });

  it('renames and deletes a conversation', async () => {
    const a = await suite.app();
    const page = await suite.open(a);
    await sendMessage(page, 'First topic');
    await assistant(page, 'complete').waitFor();

    const item = page.getByTestId('conversation-item');
    await item.getByTestId('conversation-rename').click();
    await page.getByTestId('rename-input').fill('Renamed topic');
    await page.getByTestId('rename-input').press('Enter');
    await eventually(textOf(item.getByTestId('conversation-title'))).toBe('Renamed topic');
    await eventually(textOf(page.getByTestId('chat-title'))).toBe('Renamed topic');

    await page.reload();
    await eventually(textOf(page.getByTestId('conversation-item').getByTestId('conversation-title'))).toBe('Renamed topic');

    await page.getByTestId('conversation-item').getByTestId('conversation-delete').click();
    await page.getByTestId('confirm-delete').click();
    await page.getByTestId('conversation-list-empty').waitFor();
    await page.getByTestId('empty-chat').waitFor();
    expect(page.url()).not.toContain('#/c/');

    const res = await fetch(`${a.url}/api/conversations`, { headers: { Authorization: `Bearer ${a.server.token}` } });
    expect(((await res.json()) as { items: unknown[] }).items).toEqual([]);
    await page.reload();
    await page.getByTestId('conversation-list-empty').waitFor();
    expect(pageErrors(page)).toEqual([]);
  });

  it('receives metrics ticks and shows the backend status', async () => {
    const a = await suite.app({ metricsIntervalMs: 150 });
    const page = await suite.open(a);
    await eventually(ticksOf(page)).toBeGreaterThanOrEqual(2);
    await eventually(textOf(page.getByTestId('metric-db-backend'))).toBe('sqlite');
    await eventually(textOf(page.getByTestId('metric-ws-clients'))).not.toBe('0');
    await eventually(textOf(page.getByTestId('metric-rss'))).toMatch(/\d+(\.\d)? (MB|GB)/);
    // The page's own API calls were measured, so p95 is a duration, not the "no data" dash.
    await eventually(textOf(page.getByTestId('metric-http-p95'))).toMatch(/^\d+(\.\d+)? (ms|s)$/);
    await eventually(attrOf(page.getByTestId('status-badge'), 'data-status')).toBe('ok');
    await eventually(textOf(page.getByTestId('status-badge'))).toBe('Healthy');
  });
});
