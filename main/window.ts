import { BrowserWindow } from 'electron';
import { VERSION_ARG_PREFIX } from '../preload/api.js';
import { pairingUrl, type BackendInfo } from './backend-host.js';
import { DEFAULT_SIZE, MIN_SIZE, type WindowState } from './window-state.js';

export interface WindowOptions {
  preloadPath: string;
  version: string;
  /** Where the window was last time (main/window-state.ts); undefined opens it at the default size. */
  state?: WindowState;
}

/**
 * The app window: isolated, sandboxed, no Node in the page, one preload. It stays hidden until
 * the first paint so the user never sees a white flash.
 */
export function createMainWindow(options: WindowOptions): BrowserWindow {
  const win = new BrowserWindow({
    ...(options.state?.bounds ?? DEFAULT_SIZE),
    minWidth: MIN_SIZE.width,
    minHeight: MIN_SIZE.height,
    show: false,
    title: 'Orchestra',
    backgroundColor: '#0f1115',
    webPreferences: {
      preload: options.preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: true,
      additionalArguments: [`${VERSION_ARG_PREFIX}${options.version}`],
    },
  });
  win.once('ready-to-show', () => {
    if (options.state?.maximized === true) win.maximize();
    win.show();
  });
  return win;
}

export async function loadApp(win: BrowserWindow, info: BackendInfo): Promise<void> {
  await win.loadURL(await pairingUrl(info));
}
