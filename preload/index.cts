/**
 * The preload: one typed object on `window.orchestra`, nothing else. It runs sandboxed, so it is
 * CommonJS, may require only `electron`, and gets the app version from an additional argument
 * main passes rather than from disk.
 */
// A .cts file under verbatimModuleSyntax spells a CommonJS import this way.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import electron = require('electron');
import type { AppCommand, FinishedReply, HostStatus, IPC_CHANNELS, OrchestraBridge, SaveSettingsResult, SettingsUpdate, SettingsView } from './api.js';

const { contextBridge, ipcRenderer } = electron;

const CHANNELS = {
  getSettings: 'orchestra:settings:get',
  saveSettings: 'orchestra:settings:save',
  hostStatus: 'orchestra:host-status',
  command: 'orchestra:command',
  replyFinished: 'orchestra:reply-finished',
  restartBackend: 'orchestra:backend:restart',
} as const satisfies typeof IPC_CHANNELS;

/** Subscribes to a channel main pushes on; the IPC event (with its sender) never reaches the page. */
function subscribe<T>(channel: string, listener: (payload: T) => void): () => void {
  const handler = (_event: unknown, payload: T): void => listener(payload);
  ipcRenderer.on(channel, handler);
  return () => {
    ipcRenderer.removeListener(channel, handler);
  };
}

const VERSION_PREFIX = '--orchestra-version=';
const version = process.argv.find((a) => a.startsWith(VERSION_PREFIX))?.slice(VERSION_PREFIX.length) ?? 'unknown';

const bridge = {
  version,
  platform: process.platform,
  getSettings: () => ipcRenderer.invoke(CHANNELS.getSettings) as Promise<SettingsView>,
  saveSettings: (update: SettingsUpdate) => ipcRenderer.invoke(CHANNELS.saveSettings, update) as Promise<SaveSettingsResult>,
  onStatus: (listener: (status: HostStatus) => void) => subscribe(CHANNELS.hostStatus, listener),
  onCommand: (listener: (command: AppCommand) => void) => subscribe(CHANNELS.command, listener),
  replyFinished: (reply: FinishedReply) => ipcRenderer.invoke(CHANNELS.replyFinished, reply) as Promise<void>,
  restartBackend: () => ipcRenderer.invoke(CHANNELS.restartBackend) as Promise<void>,
} satisfies OrchestraBridge;

contextBridge.exposeInMainWorld('orchestra', bridge);
