import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATIENCE_MS } from '../fixtures/patience.js';
import { eventually, launchBrowser, releaseRenderer, rendererDir, sendMessage, startApp, textOf, type TestApp } from './harness.js';

/**
 * Accessibility and looks: axe-core finds no serious or critical violation on the main screens,
 * focus is visible, and screenshots of each size and theme are saved for review in
 * test-results/screenshots (git-ignored).
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = path.join(root, 'test-results', 'screenshots');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

/** Serious and critical axe violations on the page as it is now, as readable lines. */
async function axeProblems(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate<{ violations: Violation[] }>('axe.run(document, { resultTypes: ["violations"] })');
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact ?? ''} ${v.id}: ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}

const REPLY = [
  '## A small helper',
  '',
  'Here is **one way** to do it, with a [reference](https://example.com):',
  '',
  '```ts',
  'export function debounce<T extends (...args: never[]) => void>(fn: T, ms: number) {',
  '  let timer: ReturnType<typeof setTimeout> | undefined;',
  '  return (...args: Parameters<T>) => {',
  '    clearTimeout(timer);',
  '    timer = setTimeout(() => fn(...args), ms);',
  '  };',
  '}',
  '```',
  '',
  '| option | default |',
  '| --- | --- |',
  '| ms | 200 |',
  '',
  '- [x] typed',
  '- [ ] tested',
].join('\n');

describe('accessibility and screenshots', () => {
  let browser: Browser;
  let app: TestApp;
  let conversationUrl = '';
  const contexts: BrowserContext[] = [];

  async function paired(width: number, height: number, colorScheme: 'light' | 'dark'): Promise<Page> {
    // bypassCSP: the page's CSP (rightly) refuses the injected axe script.
    const context = await browser.newContext({ viewport: { width, height }, colorScheme, bypassCSP: true });
    context.setDefaultTimeout(PATIENCE_MS);
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(await app.pairUrl());
    await page.locator('[data-testid=status-badge][data-connection=connected]').waitFor({ state: 'attached' });
    return page;
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await rendererDir();
    browser = await launchBrowser();
    app = await startApp({ provider: { echo: true, tokenIntervalMs: 1 } });
    const page = await paired(1280, 800, 'dark');
    await sendMessage(page, REPLY);
    await page.locator('[data-testid=message][data-role=assistant][data-status=complete] .hljs-keyword').first().waitFor();
    conversationUrl = page.url();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await app?.close();
    releaseRenderer();
  });

  for (const [width, height] of [
    [390, 844],
    [800, 600],
    [1280, 800],
  ] as const) {
    for (const theme of ['light', 'dark'] as const) {
      it(`chat at ${width}×${height}, ${theme}: no serious axe violation; screenshot saved`, async () => {
        const page = await paired(width, height, theme);
        await page.goto(conversationUrl);
        await page.locator('[data-testid=message][data-role=assistant][data-status=complete] .hljs-keyword').first().waitFor();
        await page.screenshot({ path: path.join(SHOTS, `chat-${width}x${height}-${theme}.png`) });
        expect(await axeProblems(page)).toEqual([]);
      });
    }
  }

  it('phone drawer and metrics sheet: no serious axe violation', async () => {
    const page = await paired(390, 844, 'dark');
    await page.getByTestId('sidebar-toggle').click();
    await page.getByTestId('new-chat').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'phone-drawer-dark.png') });
    expect(await axeProblems(page)).toEqual([]);
    await page.getByTestId('toggle-metrics').click();
    await page.getByTestId('metrics-panel').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'phone-metrics-dark.png') });
    expect(await axeProblems(page)).toEqual([]);
  });

  it('settings and shortcuts: no serious axe violation', async () => {
    for (const theme of ['light', 'dark'] as const) {
      const page = await paired(1280, 800, theme);
      await page.getByTestId('settings-button').click();
      await page.getByTestId('settings-dialog').waitFor();
      await eventually(textOf(page.getByTestId('settings-dialog'))).not.toContain('Loading…');
      await page.screenshot({ path: path.join(SHOTS, `settings-${theme}.png`) });
      expect(await axeProblems(page)).toEqual([]);
      await page.keyboard.press('Escape');
      await page.evaluate('document.activeElement && document.activeElement.blur()');
      await page.keyboard.press('?');
      await page.getByTestId('shortcuts-dialog').waitFor();
      expect(await axeProblems(page)).toEqual([]);
    }
  });

  it('pairing screen: no serious axe violation', async () => {
    for (const theme of ['light', 'dark'] as const) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: theme, bypassCSP: true });
      context.setDefaultTimeout(PATIENCE_MS);
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`${app.url}/`);
      await page.getByTestId('pairing-screen').waitFor();
      await page.screenshot({ path: path.join(SHOTS, `pairing-${theme}.png`) });
      expect(await axeProblems(page)).toEqual([]);
    }
  });

  it('shows where the keyboard focus is', async () => {
    const page = await paired(1280, 800, 'dark');
    await page.evaluate('document.activeElement && document.activeElement.blur()');
    const outlines: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      outlines.push(
        await page.evaluate<string>(
          "(() => { const el = document.activeElement; if (!el || el === document.body) return 'nothing focused'; const s = getComputedStyle(el); return s.outlineStyle === 'none' && s.boxShadow === 'none' ? (el.getAttribute('data-testid') || el.tagName) + ': none' : 'ok'; })()",
        ),
      );
    }
    // Tabbing past the last control leaves the page for the browser's own UI: skip that step.
    const focused = outlines.filter((o) => o !== 'nothing focused');
    expect(focused.length).toBeGreaterThanOrEqual(4);
    expect(focused.filter((o) => o !== 'ok')).toEqual([]);
  });
});
