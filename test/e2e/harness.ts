import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import type { RunningServer } from '../../backend/server.js';
import type { FakeProvider, FakeProviderOptions } from '../fixtures/fake-provider.js';
import { PATIENCE_MS } from '../fixtures/patience.js';
import { startTestServer } from '../fixtures/test-server.js';

/**
 * The end-to-end harness. The rules: every test gets its own temp data directory and
 * port 0, waits on events and selectors rather than timers, and is safe to run in parallel.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const distRenderer = path.join(root, 'dist', 'renderer');

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function newestMtime(target: string): number {
  const s = statSync(target);
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(target)) newest = Math.max(newest, newestMtime(path.join(target, entry)));
  return newest;
}

/** Whether dist/renderer holds a build at least as new as its sources. */
function distIsFresh(): boolean {
  const index = path.join(distRenderer, 'index.html');
  if (!existsSync(index)) return false;
  const sources = [
    path.join(root, 'renderer', 'src'),
    path.join(root, 'renderer', 'index.html'),
    path.join(root, 'renderer', 'vite.config.ts'),
    path.join(root, 'preload', 'api.ts'),
    path.join(root, 'backend', 'contract'),
  ];
  return statSync(index).mtimeMs >= Math.max(...sources.map(newestMtime));
}

let built: Promise<string> | undefined;
let privateBuild: string | undefined;

/**
 * The renderer build to serve: dist/renderer when present and up to date (`npm test` builds it
 * first), else a private build in a temp directory, so parallel test files never race on dist/.
 */
export function rendererDir(): Promise<string> {
  built ??= (async () => {
    if (distIsFresh()) return distRenderer;
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'orchestra-renderer-'));
    privateBuild = outDir;
    const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [vite, 'build', '--config', 'renderer/vite.config.ts', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'], {
        cwd: root,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vite build failed (${code}): ${stderr}`))));
    });
    return outDir;
  })();
  return built;
}

/** Removes the private renderer build, if this file made one (call it in afterAll). */
export function releaseRenderer(): void {
  if (privateBuild !== undefined) rmSync(privateBuild, { recursive: true, force: true });
  privateBuild = undefined;
  built = undefined;
}

export interface TestApp {
  server: RunningServer;
  url: string;
  /** A fresh one-time pairing link (each browser context needs its own). */
  pairUrl(): Promise<string>;
  provider: FakeProvider | undefined;
  dataDir: string;
  close(): Promise<void>;
}

export interface AppOptions {
  /** Options for the fake provider; `false` starts the backend with no provider at all. */
  provider?: FakeProviderOptions | false;
  metricsIntervalMs?: number;
}

/** A backend on port 0 with its own temp DATA_DIR and (unless `provider: false`) a fake model. */
export async function startApp(options: AppOptions = {}): Promise<TestApp> {
  const t = await startTestServer({
    provider: options.provider ?? {},
    overrides: { logLevel: 'silent' },
    start: { rendererDir: await rendererDir(), metricsIntervalMs: options.metricsIntervalMs ?? 250 },
  });
  return {
    server: t.server,
    url: t.url,
    pairUrl: async () => (await t.server.pairingLink()).url,
    provider: t.provider,
    dataDir: t.dataDir,
    close: () => t.close(),
  };
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

/**
 * The UI asks GET /api/models on load to learn whether a model provider answers; with none, the
 * 503 `no-provider` is the answer it shows as a banner, not a fault, though Chromium logs every
 * non-2xx fetch as a console error.
 */
function expectedFailure(text: string, url: string): boolean {
  return text.startsWith('Failed to load resource') && /\/api\/models$/.test(url);
}

/**
 * The hooks of a describe block that drives one browser against apps it starts: the renderer is
 * built once before it, and the browser and every app are closed after it.
 */
export function browserSuite(): { open(app: TestApp): Promise<Page>; app(options?: AppOptions): Promise<TestApp>; browser(): Browser } {
  let browser: Browser | undefined;
  const apps: TestApp[] = [];
  beforeAll(async () => {
    await rendererDir();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.allSettled(apps.map((a) => a.close()));
    releaseRenderer();
  });
  const started = (): Browser => {
    if (browser === undefined) throw new Error('the browser starts in beforeAll');
    return browser;
  };
  return {
    open(app) {
      return openPaired(started(), app);
    },
    browser: started,
    async app(options) {
      const started = await startApp(options);
      apps.push(started);
      return started;
    },
  };
}

/** A fresh browser context (its own cookies) paired through a one-time pairing link, on the app screen. */
export async function openPaired(browser: Browser, app: TestApp): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
  // Playwright's own 30 s default is a speed limit on a loaded machine: use the suite's patience.
  context.setDefaultTimeout(PATIENCE_MS);
  context.setDefaultNavigationTimeout(PATIENCE_MS);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !expectedFailure(msg.text(), msg.location().url)) errors.push(msg.text());
  });
  (page as Page & { errors?: string[] }).errors = errors;
  await page.goto(await app.pairUrl());
  await page.getByTestId('app-root').waitFor();
  // The composer is enabled once the socket is connected.
  await page.locator('[data-testid=status-badge][data-connection=connected]').waitFor();
  return page;
}

/** Console errors and uncaught exceptions the page reported. */
export function pageErrors(page: Page): string[] {
  return (page as Page & { errors?: string[] }).errors ?? [];
}

export async function sendMessage(page: Page, text: string): Promise<void> {
  await page.getByTestId('composer-input').fill(text);
  await page.getByTestId('send-button').click();
}

/*
 * Probes for `expect.poll`: playwright-core has no web-first assertions, so tests poll a probe
 * until the page reaches the expected state (`await expect.poll(textOf(x)).toBe('…')`). None of
 * them waits for the element to exist, so a poll never hangs inside one attempt.
 */
export const textOf = (l: Locator) => async (): Promise<string> => (await l.allTextContents()).join('');
export const countOf = (l: Locator) => (): Promise<number> => l.count();
export const attrOf = (l: Locator, name: string) => (): Promise<string | null> =>
  l.evaluateAll((els, n) => (els as unknown as Array<{ getAttribute(name: string): string | null }>)[0]?.getAttribute(n) ?? null, name);
export const valueOf = (l: Locator) => (): Promise<string | null> =>
  l.evaluateAll((els) => (els[0] as unknown as { value?: string } | undefined)?.value ?? null);
export const visibleOf = (l: Locator) => (): Promise<boolean> => l.isVisible();

/** `expect.poll` with a patience that suits a loaded two-core CI machine. */
export function eventually<T>(probe: () => Promise<T>) {
  return expect.poll(probe, { timeout: PATIENCE_MS, interval: 50 });
}

/** How many `metrics:tick` events the metrics panel has rendered. */
export const ticksOf = (page: Page) => async (): Promise<number> => Number((await attrOf(page.getByTestId('metrics-panel'), 'data-ticks')()) ?? 0);
