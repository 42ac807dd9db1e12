/**
 * The Electron main process: one instance, one window, the backend in a utility process, and a
 * quit that runs once with a time limit on every step. Everything with logic lives in a module
 * that takes small interfaces (backend-host, security, settings, ipc, quit) and is tested
 * without Electron; this file only wires the real Electron objects into them.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, Notification, safeStorage, screen, session, shell, utilityProcess } from 'electron';
import Store from 'electron-store';
import { IPC_CHANNELS, type AppCommand, type HostStatus, type SaveSettingsResult } from '../preload/api.js';
import { saveAndApplySettings } from './apply-settings.js';
import { BackendHost, type BackendInfo } from './backend-host.js';
import { electronUpdaterAdapter } from './electron-updater.js';
import { parseFinishedReply, registerBridgeHandlers } from './ipc.js';
import { menuTemplate } from './menu.js';
import { ReplyNotifier } from './notify.js';
import { createQuitGuard } from './quit.js';
import { denyAllPermissions, enforceCsp, guardWebContents, isAllowedUrl, isExternalWebUrl } from './security.js';
import { SettingsService } from './settings.js';
import { UpdateService } from './updates.js';
import { adaptUtilityProcess, type AdaptedUtilityProcess } from './utility-process.js';
import { createMainWindow, loadApp } from './window.js';
import { restoreWindowState, trackWindowState } from './window-state.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BACKEND_ENTRY = path.join(here, 'backend-entry.js');
const PRELOAD = path.join(here, '..', 'preload', 'index.cjs');

/** Debug runs (`--debug` or ORCHESTRA_DEBUG=1) get DevTools in the View menu. */
const DEBUG = process.argv.includes('--debug') || process.env.ORCHESTRA_DEBUG === '1';

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
let updates: UpdateService | undefined;
let windowStore: Store<Record<string, unknown>> | undefined;
/**
 * The origin the window was loaded from. It stays trusted for IPC while the backend is down, so
 * the page can still ask for a restart after a crash.
 */
let appUrl: string | undefined;

const backendUrl = (): string | undefined => host?.info?.url;

function sendCommand(command: AppCommand): void {
  if (mainWindow === undefined || mainWindow.isDestroyed()) return;
  if (mainWindow.isMinimized()) mainWindow.restore();
  mainWindow.show();
  mainWindow.focus();
  mainWindow.webContents.send(IPC_CHANNELS.command, command);
}

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
  const state = windowStore ? restoreWindowState(windowStore, screen) : undefined;
  const win = createMainWindow({ preloadPath: PRELOAD, version: app.getVersion(), ...(state ? { state } : {}) });
  mainWindow = win;
  if (windowStore) trackWindowState(win, windowStore, screen);
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = undefined;
  });
  win.webContents.on('did-finish-load', () => {
    if (lastStatus !== undefined) win.webContents.send(IPC_CHANNELS.hostStatus, lastStatus);
  });
  loadApp(win, info).catch((err: unknown) => log(`could not load the app: ${(err as Error).message}`));
}

function reloadWindow(info: BackendInfo): void {
  appUrl = info.url;
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
    { name: 'update checks', run: () => updates?.stop() },
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
  windowStore = new Store<Record<string, unknown>>({ name: 'window-state' });
  const logPath = path.join(dataDir, 'logs', 'backend.log');
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
    logPath,
    onStatus: sendStatus,
    onRestarted: reloadWindow,
    // With a window open, the page explains the crash and offers Restart (the status carries it);
    // without one there is nowhere to say it but a dialog.
    onFatal: (message) => {
      if (mainWindow === undefined || mainWindow.isDestroyed()) fatal('The Orchestra backend stopped', message);
    },
  });
  host = backend;

  const updateService = new UpdateService({
    updater: electronUpdaterAdapter(log),
    feedUrl: () => settings.settings().updateUrl,
    currentVersion: app.getVersion(),
    log,
  });
  updates = updateService;
  const checkForUpdatesNow = (): void => {
    void updateService.check().then(async (status) => {
      const options = { type: status.state === 'error' ? ('error' as const) : ('info' as const), title: 'Updates', message: status.message };
      if (mainWindow !== undefined && !mainWindow.isDestroyed()) await dialog.showMessageBox(mainWindow, options);
      else await dialog.showMessageBox(options);
    });
  };

  const refreshMenu = (): void => {
    const template = menuTemplate({
      appName: app.getName(),
      platform: process.platform,
      debug: DEBUG,
      updatesEnabled: settings.settings().updateUrl !== '',
      actions: {
        openSettings: () => sendCommand('open-settings'),
        newChat: () => sendCommand('new-chat'),
        reload: () => {
          const info = host?.info;
          if (info !== undefined) reloadWindow(info);
          else mainWindow?.webContents.reload();
        },
        toggleDevTools: () => mainWindow?.webContents.toggleDevTools(),
        checkForUpdates: checkForUpdatesNow,
      },
    });
    Menu.setApplicationMenu(Menu.buildFromTemplate(template));
  };
  refreshMenu();

  const notifier = new ReplyNotifier({
    windowFocused: () => mainWindow !== undefined && !mainWindow.isDestroyed() && mainWindow.isVisible() && mainWindow.isFocused(),
    enabled: () => settings.settings().notifyOnReply,
    supported: () => Notification.isSupported(),
    show: ({ title, body }) => {
      const notification = new Notification({ title, body, silent: false });
      notification.on('click', () => {
        if (mainWindow === undefined || mainWindow.isDestroyed()) return;
        if (mainWindow.isMinimized()) mainWindow.restore();
        mainWindow.show();
        mainWindow.focus();
      });
      notification.show();
    },
  });

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
    ).finally(refreshMenu);
  unregisterIpc = registerBridgeHandlers(
    ipcMain,
    {
      getSettings: () => settings.view(),
      saveSettings,
      replyFinished: (input) => {
        const reply = parseFinishedReply(input);
        if (reply !== undefined) notifier.replyFinished(reply);
      },
      restartBackend: async () => {
        try {
          reloadWindow(await backend.restartAfterFailure());
        } catch (err) {
          log(`restart on request failed: ${(err as Error).message}`);
          throw err;
        }
      },
    },
    (url) => isAllowedUrl(url, backendUrl() ?? appUrl),
  );

  let info: BackendInfo;
  try {
    info = await backend.start();
  } catch (err) {
    fatal('Orchestra could not start', (err as Error).message);
    return;
  }
  appUrl = info.url;
  openWindow(info);
  updateService.start();
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
