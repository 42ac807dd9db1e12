import { IPC_CHANNELS, type FinishedReply, type SaveSettingsResult, type SettingsView } from '../preload/api.js';

/** The parts of Electron's ipcMain used here, so the handlers are tested without Electron. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcInvokeEventLike, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

export interface IpcInvokeEventLike {
  senderFrame: { url: string } | null;
}

export interface BridgeHandlers {
  getSettings(): SettingsView;
  saveSettings(update: unknown): Promise<SaveSettingsResult>;
  /** Untrusted payload: the handler validates it (see parseFinishedReply). */
  replyFinished(reply: unknown): void;
  restartBackend(): Promise<void>;
}

/** The page's `replyFinished` argument, checked: strings of a sane length, or nothing. */
export function parseFinishedReply(input: unknown): FinishedReply | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { conversationId, title } = input as Record<string, unknown>;
  if (typeof conversationId !== 'string' || conversationId === '' || conversationId.length > 200) return undefined;
  if (typeof title !== 'string') return undefined;
  return { conversationId, title: title.slice(0, 200) };
}

export class UntrustedSenderError extends Error {
  constructor(url: string) {
    super(`refused an IPC call from ${url || 'an unknown frame'}`);
    this.name = 'UntrustedSenderError';
  }
}

/**
 * Registers the main-process side of the preload bridge. Every call checks that it comes from a
 * frame showing the app (the backend origin): a page that somehow got into a frame cannot read
 * or change settings. Returns the function that removes the handlers.
 */
export function registerBridgeHandlers(ipc: IpcMainLike, handlers: BridgeHandlers, isTrustedUrl: (url: string) => boolean): () => void {
  const guard = (event: IpcInvokeEventLike): void => {
    const url = event.senderFrame?.url ?? '';
    if (!isTrustedUrl(url)) throw new UntrustedSenderError(url);
  };
  ipc.handle(IPC_CHANNELS.getSettings, (event) => {
    guard(event);
    return handlers.getSettings();
  });
  ipc.handle(IPC_CHANNELS.saveSettings, (event, update) => {
    guard(event);
    return handlers.saveSettings(update);
  });
  ipc.handle(IPC_CHANNELS.replyFinished, (event, reply) => {
    guard(event);
    handlers.replyFinished(reply);
  });
  ipc.handle(IPC_CHANNELS.restartBackend, (event) => {
    guard(event);
    return handlers.restartBackend();
  });
  return () => {
    for (const channel of [IPC_CHANNELS.getSettings, IPC_CHANNELS.saveSettings, IPC_CHANNELS.replyFinished, IPC_CHANNELS.restartBackend]) {
      ipc.removeHandler(channel);
    }
  };
}
