import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATIENCE_MS } from '../fixtures/patience.js';
import type { AppCommand, HostStatus, OrchestraBridge, SettingsView } from '../../preload/api.js';
import { attrOf, countOf, eventually, launchBrowser, pageErrors, releaseRenderer, rendererDir, sendMessage, startApp, textOf, type TestApp } from './harness.js';

/**
 * The page's side of the desktop bridge, in Chromium against a real backend: a stand-in for the
 * preload's `window.orchestra` (same shape, checked against OrchestraBridge) records what the
 * page calls and lets the test play main (push a host status, send a menu command).
 */
interface BridgeProbe {
  calls: Array<{ method: string; args: unknown[] }>;
  emitStatus(status: HostStatus): void;
  emitCommand(command: AppCommand): void;
}

const VIEW: SettingsView = {
  settings: { llmBaseUrl: '', llmModel: '', databaseUrl: '', redisUrl: '', logLevel: 'info', notifyOnReply: true, updateUrl: '' },
  secrets: { llmApiKey: { set: false }, databasePassword: { set: false } },
  encryptionAvailable: true,
};

function installFakeBridge(view: SettingsView): void {
  const w = globalThis as unknown as { orchestra: OrchestraBridge; __probe: BridgeProbe };
  const statusListeners = new Set<(s: HostStatus) => void>();
  const commandListeners = new Set<(c: AppCommand) => void>();
  const calls: BridgeProbe['calls'] = [];
  w.__probe = {
    calls,
    emitStatus: (s) => statusListeners.forEach((l) => l(s)),
    emitCommand: (c) => commandListeners.forEach((l) => l(c)),
  };
  const bridge = {
    version: '9.9.9-test',
    platform: 'linux',
    getSettings: () => Promise.resolve(view),
    saveSettings: () => Promise.resolve({ ok: false as const, message: 'not in this test' }),
    onStatus: (l: (s: HostStatus) => void) => {
      statusListeners.add(l);
      return () => statusListeners.delete(l);
    },
    onCommand: (l: (c: AppCommand) => void) => {
      commandListeners.add(l);
      return () => commandListeners.delete(l);
    },
    replyFinished: (reply: unknown) => {
      calls.push({ method: 'replyFinished', args: [reply] });
      return Promise.resolve();
    },
    restartBackend: () => {
      calls.push({ method: 'restartBackend', args: [] });
      return Promise.resolve();
    },
  } satisfies OrchestraBridge;
  w.orchestra = bridge;
}

const calls = (page: Page, method: string) => async (): Promise<unknown[][]> =>
  page.evaluate((m) => (globalThis as unknown as { __probe: BridgeProbe }).__probe.calls.filter((c) => c.method === m).map((c) => c.args), method);

describe('the page with the desktop bridge', () => {
  let browser: Browser;
  let app: TestApp;
  let page: Page;

  beforeAll(async () => {
    await rendererDir();
    browser = await launchBrowser();
    app = await startApp();
    const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
    context.setDefaultTimeout(PATIENCE_MS);
    await context.addInitScript(installFakeBridge, VIEW);
    page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    (page as Page & { errors?: string[] }).errors = errors;
    await page.goto(await app.pairUrl());
    await page.locator('[data-testid=status-badge][data-connection=connected]').waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    releaseRenderer();
  });

  it('tells main each time a reply finishes, with the conversation and its title', async () => {
    await sendMessage(page, 'notify me please');
    await page.locator('[data-testid=message][data-role=assistant][data-status=complete]').waitFor();
    await eventually(async () => (await calls(page, 'replyFinished')()).length).toBe(1);
    const [[reply]] = (await calls(page, 'replyFinished')()) as [[{ conversationId: string; title: string }]];
    expect(reply.conversationId).toMatch(/\S/);
    expect(page.url()).toContain(reply.conversationId);
    expect(typeof reply.title).toBe('string');
  });

  it('follows the menu: New Chat empties the view, Settings opens the dialog with the desktop settings', async () => {
    await eventually(countOf(page.locator('[data-testid=message]'))).toBeGreaterThan(0);
    await page.evaluate(() => (globalThis as unknown as { __probe: BridgeProbe }).__probe.emitCommand('new-chat'));
    await eventually(countOf(page.locator('[data-testid=message]'))).toBe(0);
    await eventually(() => Promise.resolve(page.url().includes('#/c/'))).toBe(false);

    await page.evaluate(() => (globalThis as unknown as { __probe: BridgeProbe }).__probe.emitCommand('open-settings'));
    const dialog = page.getByTestId('settings-dialog');
    await dialog.waitFor();
    await eventually(textOf(dialog)).toContain('Update URL');
    await eventually(async () => page.getByTestId('setting-notify-on-reply').isChecked()).toBe(true);
    await dialog.getByRole('button', { name: 'Close' }).first().click();
    await eventually(countOf(dialog)).toBe(0);
  });

  it('explains a backend crash with the log path, and offers Restart once the host gave up', async () => {
    const logPath = '/home/me/.config/Orchestra/logs/backend.log';
    await page.evaluate(
      (status) => (globalThis as unknown as { __probe: BridgeProbe }).__probe.emitStatus(status),
      {
        state: 'restarting',
        message: 'The backend stopped unexpectedly (exit code 139). Restarting it in 0.5 s.',
        at: new Date().toISOString(),
        crash: { exitCode: 139, crashesInWindow: 1, restarting: true, logPath },
      } satisfies HostStatus,
    );
    const banner = page.getByTestId('host-status-banner');
    await eventually(textOf(banner)).toContain('exit code 139');
    await eventually(textOf(page.getByTestId('host-log-path'))).toBe(logPath);
    await eventually(countOf(page.getByTestId('host-restart'))).toBe(0);

    await page.evaluate(
      (status) => (globalThis as unknown as { __probe: BridgeProbe }).__probe.emitStatus(status),
      {
        state: 'failed',
        message: 'The backend stopped unexpectedly (exit code 139). It crashed 3 times within 60 s, so it is not restarted again.',
        at: new Date().toISOString(),
        crash: { exitCode: 139, crashesInWindow: 3, restarting: false, logPath },
      } satisfies HostStatus,
    );
    await eventually(attrOf(banner, 'data-state')).toBe('failed');
    await eventually(textOf(banner)).toContain('crashed 3 times within 60 s');
    await page.getByTestId('host-restart').click();
    await eventually(async () => (await calls(page, 'restartBackend')()).length).toBe(1);

    await page.evaluate(
      (status) => (globalThis as unknown as { __probe: BridgeProbe }).__probe.emitStatus(status),
      { state: 'running', message: 'the backend is running', at: new Date().toISOString() } satisfies HostStatus,
    );
    await eventually(countOf(banner)).toBe(0);
    expect(pageErrors(page)).toEqual([]);
  });
});
