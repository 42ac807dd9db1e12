import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { _electron as electron, type ElectronApplication } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../fixtures/fake-provider.js';
import { countOf, eventually, sendMessage, textOf } from './harness.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Finds the Electron binary the way node_modules/electron/index.js does, without its fallback:
 * requiring `electron` in Node tries to download the binary when it is missing, which this suite
 * must never do (CI machines without network, or with the download disabled).
 */
function electronBinary(): { path: string } | { missing: string } {
  const pkg = path.join(root, 'node_modules', 'electron');
  const pathFile = path.join(pkg, 'path.txt');
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  if (!existsSync(pathFile) && override === undefined) {
    return { missing: 'the Electron binary was never downloaded (node_modules/electron/path.txt is missing; npm ci without network skips it)' };
  }
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : 'electron';
  const binary = override !== undefined ? path.join(override, relative) : path.join(pkg, 'dist', relative);
  if (!existsSync(binary)) return { missing: `the Electron binary is not at ${binary}` };
  if (!existsSync(path.join(root, 'dist', 'main', 'index.js'))) return { missing: 'dist/main/index.js is missing; run `npm run build` first' };
  return { path: binary };
}

const found = electronBinary();
const hasElectron = 'path' in found;
if (!hasElectron) {
  // Printed so a skipped desktop test is never mistaken for a passing one.
  console.info(`[electron e2e] skipped: ${found.missing}. It cannot be downloaded on this machine; the desktop shell is covered by test/unit/main, test/e2e/desktop-bridge.test.ts and test/integration/packaging.test.ts.`);
}

describe('the desktop app (real Electron)', () => {
  let app: ElectronApplication | undefined;
  let provider: FakeProvider | undefined;
  let userData: string | undefined;

  afterAll(async () => {
    await app?.close();
    await provider?.close();
    if (userData !== undefined) rmSync(userData, { recursive: true, force: true });
  });

  it.skipIf(!hasElectron)('starts the backend in a utility process, pairs its window, and chats', async () => {
    if (!('path' in found)) return;
    provider = await startFakeProvider({ tokens: 5 });
    userData = mkdtempSync(path.join(os.tmpdir(), 'orchestra-electron-'));
    app = await electron.launch({
      executablePath: found.path,
      args: [root, '--no-sandbox'],
      env: { ...process.env, ORCHESTRA_USER_DATA_DIR: userData, LLM_BASE_URL: provider.url, LOG_LEVEL: 'warn' },
    });
    const page = await app.firstWindow();
    await page.getByTestId('app-root').waitFor();
    await page.locator('[data-testid=status-badge][data-connection=connected]').waitFor();

    // The window shows the backend's origin, through the pairing cookie, never a file:// page.
    expect(page.url()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    // One bridge object, no Node in the page.
    const bridge = await page.evaluate(() => {
      const w = globalThis as unknown as { orchestra?: Record<string, unknown>; require?: unknown; process?: unknown };
      return { keys: Object.keys(w.orchestra ?? {}).sort(), require: typeof w.require, process: typeof w.process };
    });
    expect(bridge).toEqual({
      keys: ['getSettings', 'onCommand', 'onStatus', 'platform', 'replyFinished', 'restartBackend', 'saveSettings', 'version'],
      require: 'undefined',
      process: 'undefined',
    });

    await sendMessage(page, 'hello from the desktop');
    const reply = page.locator('[data-testid=message][data-role=assistant][data-status=complete]');
    await reply.waitFor();
    await eventually(textOf(reply.getByTestId('message-content'))).toBe('tok0 tok1 tok2 tok3 tok4 ');

    await page.getByTestId('settings-button').click();
    await page.getByTestId('settings-dialog').waitFor();
    await eventually(countOf(page.getByTestId('settings-dialog').locator('input'))).toBeGreaterThan(3);
    await page.getByTestId('settings-dialog').getByRole('button', { name: 'Close' }).first().click();

    // The application menu: the app's commands next to the standard roles; no DevTools outside debug runs.
    const menu = await app.evaluate(({ Menu }) => {
      const m = Menu.getApplicationMenu();
      return { newChat: m?.getMenuItemById('new-chat')?.label, settings: m?.getMenuItemById('settings')?.label, devtools: m?.getMenuItemById('devtools') ?? null };
    });
    expect(menu).toMatchObject({ newChat: 'New Chat', devtools: null });
    expect(menu.settings).toMatch(/Settings/);
    // Menu → Settings reaches the page through the bridge.
    await app.evaluate(({ Menu }) => {
      const item = Menu.getApplicationMenu()?.getMenuItemById('settings');
      if (item) (item.click as () => void)();
    });
    await page.getByTestId('settings-dialog').waitFor();

    // The window's state is saved when it closes, for the next start.
    await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]?.close());
    await eventually(() => Promise.resolve(existsSync(path.join(userData ?? '', 'window-state.json')))).toBe(true);
  });
});
