/**
 * The Electron main process: one instance, one window, the backend in a utility process, and a
 * quit that runs once with a time limit on every step. Everything with logic lives in a module
 * that takes small interfaces (backend-host, security, settings, ipc, quit) and is tested
 * without Electron; this file only wires the real Electron objects into them.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, safeStorage, session, shell, utilityProcess } from 'electron';
import Store from 'electron-store';
import { IPC_CHANNELS, type HostStatus, type SaveSettingsResult } from '../preload/api.js';
import { saveAndApplySettings } from './apply-settings.js';
import { BackendHost, type BackendInfo } from './backend-host.js';
import { registerBridgeHandlers } from './ipc.js';
import { createQuitGuard } from './quit.js';
import { denyAllPermissions, enforceCsp, guardWebContents, isAllowedUrl, isExternalWebUrl } from './security.js';
import { SettingsService } from './settings.js';
import { adaptUtilityProcess, type AdaptedUtilityProcess } from './utility-process.js';
import { createMainWindow, loadApp } from './window.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BACKEND_ENTRY = path.join(here, 'backend-entry.js');
const PRELOAD = path.join(here, '..', 'preload', 'index.cjs');

const log = (line: string): void => {
  process.stdout.write(`[orchestra] ${line}\n`);
};

// Tests (and people who want a second, separate profile) point userData somewhere else.
const userDataOverride = process.env.ORCHESTRA_USER_DATA_DIR;
if (userDataOverride !== undefined && userDataOverride !== '') app.setPath('userData', userDataOverride);

let mainWindow: BrowserWindow | undefined;
let host: BackendHost | undefined;
let lastStatus: HostStatus | undefined;
let unregisterIpc: (() => void) | undefined;

const backendUrl = (): string | undefined => host?.info?.url;

function sendStatus(status: HostStatus): void {
  lastStatus = status;
  log(`backend ${status.state}: ${status.message}`);
  if (mainWindow !== undefined && !mainWindow.isDestroyed()) mainWindow.webContents.send(IPC_CHANNELS.hostStatus, status);
}

function fatal(title: string, message: string): void {
  log(`${title}: ${message}`);
  dialog.showErrorBox(title, `${message}\n\nThe backend log is in ${path.join(app.getPath('userData'), 'logs')}.`);
  app.quit();
}

function openWindow(info: BackendInfo): void {
  if (mainWindow !== undefined && !mainWindow.isDestroyed()) {
    mainWindow.focus();
    return;
  }
  const win = createMainWindow({ preloadPath: PRELOAD, version: app.getVersion() });
  mainWindow = win;
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = undefined;
  });
  win.webContents.on('did-finish-load', () => {
    if (lastStatus !== undefined) win.webContents.send(IPC_CHANNELS.hostStatus, lastStatus);
  });
  loadApp(win, info).catch((err: unknown) => log(`could not load the app: ${(err as Error).message}`));
}

function reloadWindow(info: BackendInfo): void {
  if (mainWindow === undefined || mainWindow.isDestroyed()) {
    openWindow(info);
    return;
  }
  loadApp(mainWindow, info).catch((err: unknown) => log(`could not reload the app: ${(err as Error).message}`));
}

const quitGuard = createQuitGuard({
  stepTimeoutMs: 3_000,
  log,
  steps: [
    { name: 'ipc handlers', run: () => unregisterIpc?.() },
    // BackendHost.stop has its own limits (graceful close, then kill); this bounds the whole step.
    { name: 'backend', run: () => host?.stop(), timeoutMs: 8_000 },
    {
      name: 'windows',
      run: () => {
        for (const win of BrowserWindow.getAllWindows()) win.destroy();
      },
    },
  ],
});

async function start(): Promise<void> {
  const dataDir = app.getPath('userData');
  denyAllPermissions(session.defaultSession, log);
  enforceCsp(session.defaultSession);

  const settings = new SettingsService(new Store<Record<string, unknown>>({ name: 'settings' }), safeStorage, log);
  let backendProcess: AdaptedUtilityProcess | undefined;
  const backend = new BackendHost({
    fork: () => {
      backendProcess = adaptUtilityProcess(
        utilityProcess.fork(BACKEND_ENTRY, [], { serviceName: 'Orchestra backend', stdio: 'pipe', cwd: dataDir }),
        (line) => process.stdout.write(`[backend] ${line}\n`),
      );
      return backendProcess;
    },
    overrides: () => settings.backendOverrides(dataDir),
    describeExit: () => backendProcess?.tail() ?? '',
    onStatus: sendStatus,
    onRestarted: reloadWindow,
    onFatal: (message) => fatal('The Orchestra backend stopped', message),
  });
  host = backend;

  const saveSettings = (update: unknown): Promise<SaveSettingsResult> =>
    saveAndApplySettings(
      {
        settings,
        dataDir,
        reconfigure: (overrides) => backend.reconfigure(overrides),
        scheduleRestart: () =>
          setImmediate(() => {
            backend.restart().then(reloadWindow, (err: unknown) => fatal('The Orchestra backend could not restart', (err as Error).message));
          }),
      },
      update,
    );
  unregisterIpc = registerBridgeHandlers(ipcMain, { getSettings: () => settings.view(), saveSettings }, (url) =>
    isAllowedUrl(url, backendUrl()),
  );

  let info: BackendInfo;
  try {
    info = await backend.start();
  } catch (err) {
    fatal('Orchestra could not start', (err as Error).message);
    return;
  }
  openWindow(info);
}

if (!app.requestSingleInstanceLock()) {
  // Another instance owns the data directory; it focuses its window (second-instance below).
  app.quit();
} else {
  app.on('second-instance', () => {
    if (mainWindow === undefined || mainWindow.isDestroyed()) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });

  app.on('web-contents-created', (_event, contents) => {
    guardWebContents(contents, {
      backendUrl,
      openExternal: (url) => {
        if (isExternalWebUrl(url)) shell.openExternal(url).catch((err: unknown) => log(`could not open ${url}: ${(err as Error).message}`));
      },
      log,
    });
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  app.on('activate', () => {
    const info = host?.info;
    if (info !== undefined && BrowserWindow.getAllWindows().length === 0) openWindow(info);
  });

  app.on('before-quit', (event) => {
    if (quitGuard.state === 'done') return;
    event.preventDefault();
    quitGuard.run().then(
      () => app.quit(),
      () => app.exit(1),
    );
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => app.quit());
  process.on('unhandledRejection', (reason) => log(`unhandled rejection: ${reason instanceof Error ? reason.message : String(reason)}`));

  app
    .whenReady()
    .then(start)
    .catch((err: unknown) => fatal('Orchestra could not start', (err as Error).message));
}
