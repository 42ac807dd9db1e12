import { BrowserWindow } from 'electron';
import { VERSION_ARG_PREFIX } from '../preload/api.js';
import { pairingUrl, type BackendInfo } from './backend-host.js';

export interface WindowOptions {
  preloadPath: string;
  version: string;
}

/**
 * The app window: isolated, sandboxed, no Node in the page, one preload. It stays hidden until
 * the first paint so the user never sees a white flash.
 */
export function createMainWindow(options: WindowOptions): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 760,
    minHeight: 520,
    show: false,
    title: 'Orchestra',
    backgroundColor: '#0f1115',
    autoHideMenuBar: true,
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
  win.once('ready-to-show', () => win.show());
  return win;
}

export async function loadApp(win: BrowserWindow, info: BackendInfo): Promise<void> {
  await win.loadURL(await pairingUrl(info));
}
