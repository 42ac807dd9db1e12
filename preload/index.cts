/**
 * The preload: one typed object on `window.orchestra`, nothing else. It runs sandboxed, so it is
 * CommonJS, may require only `electron`, and gets the app version from an additional argument
 * main passes rather than from disk.
 */
// A .cts file under verbatimModuleSyntax spells a CommonJS import this way.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import electron = require('electron');
import type { HostStatus, IPC_CHANNELS, OrchestraBridge, SaveSettingsResult, SettingsUpdate, SettingsView } from './api.js';

const { contextBridge, ipcRenderer } = electron;

const CHANNELS = {
  getSettings: 'orchestra:settings:get',
  saveSettings: 'orchestra:settings:save',
  hostStatus: 'orchestra:host-status',
} as const satisfies typeof IPC_CHANNELS;

const VERSION_PREFIX = '--orchestra-version=';
const version = process.argv.find((a) => a.startsWith(VERSION_PREFIX))?.slice(VERSION_PREFIX.length) ?? 'unknown';

const bridge = {
  version,
  platform: process.platform,
  getSettings: () => ipcRenderer.invoke(CHANNELS.getSettings) as Promise<SettingsView>,
  saveSettings: (update: SettingsUpdate) => ipcRenderer.invoke(CHANNELS.saveSettings, update) as Promise<SaveSettingsResult>,
  onStatus: (listener: (status: HostStatus) => void) => {
    // The IPC event (with its sender) never reaches the page; only the status payload does.
    const handler = (_event: unknown, status: HostStatus): void => listener(status);
    ipcRenderer.on(CHANNELS.hostStatus, handler);
    return () => {
      ipcRenderer.removeListener(CHANNELS.hostStatus, handler);
    };
  },
} satisfies OrchestraBridge;

contextBridge.exposeInMainWorld('orchestra', bridge);
