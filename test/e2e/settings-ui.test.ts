import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SettingsBody } from '../../backend/contract/settings.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';
import { attrOf, countOf, eventually, launchBrowser, openPaired, releaseRenderer, rendererDir, textOf, valueOf, type TestApp } from './harness.js';

/**
 * The settings dialog over GET/PATCH /api/settings in a real browser: sources and locks as the
 * server reports them, a change saved, stored and applied, and a secret entered but never shown.
 */
describe('the settings dialog', () => {
  let browser: Browser;
  let t: TestServer;
  let app: TestApp;

  beforeAll(async () => {
    t = await startTestServer({
      provider: {},
      overrides: { logLevel: 'silent' },
      // The provider URL as if it came from the environment: locked in the dialog.
      start: { rendererDir: await rendererDir(), sources: { llmBaseUrl: 'environment' } },
    });
    app = { server: t.server, url: t.url, pairUrl: async () => (await t.server.pairingLink()).url, provider: t.provider, dataDir: t.dataDir, close: () => t.close() };
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    releaseRenderer();
  });

  it('shows each value with its source, keeps locked ones read-only, and saves a change and a secret', async () => {
    const page = await openPaired(browser, app);
    await page.getByTestId('settings-button').click();
    const dialog = page.getByTestId('settings-dialog');
    await eventually(countOf(dialog.getByTestId('setting'))).toBe(6);

    const provider = dialog.locator('[data-testid=setting][data-key=llmBaseUrl]');
    await eventually(attrOf(provider, 'data-locked')).toBe('true');
    await eventually(textOf(provider.getByTestId('setting-source'))).toBe('env');
    expect(await provider.locator('input').getAttribute('readonly')).not.toBeNull();

    await dialog.getByTestId('setting-corsOrigins').fill('https://frontend.example');
    await dialog.getByTestId('setting-llmModel').fill('fake-model-2');
    await dialog.getByTestId('setting-llmApiKey').fill('sk-typed-in-the-dialog-5521');
    await dialog.getByTestId('settings-save').click();
    await eventually(textOf(dialog.getByTestId('settings-message'))).toContain('Saved');

    const cors = dialog.locator('[data-testid=setting][data-key=corsOrigins]');
    await eventually(textOf(cors.getByTestId('setting-source'))).toBe('stored');
    await eventually(valueOf(dialog.getByTestId('setting-corsOrigins'))).toBe('https://frontend.example');
    // The secret is stored, and the field is empty again: the page never gets it back.
    await eventually(valueOf(dialog.getByTestId('setting-llmApiKey'))).toBe('');
    expect(await dialog.getByTestId('setting-llmApiKey').getAttribute('placeholder')).toContain('set');
    expect(await page.content()).not.toContain('sk-typed-in-the-dialog-5521');

    const res = await t.api('/api/settings');
    const body = (await res.json()) as SettingsBody;
    expect(body.settings.corsOrigins).toEqual({ value: ['https://frontend.example'], source: 'stored', locked: false });
    expect(body.settings.llmModel.value).toBe('fake-model-2');
    expect(body.settings.llmApiKey).toEqual({ value: { set: true }, source: 'stored', locked: false });
  });
});
