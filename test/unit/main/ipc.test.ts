import { describe, expect, it, vi } from 'vitest';
import { IPC_CHANNELS } from '../../../preload/api.js';
import { parseFinishedReply, registerBridgeHandlers, UntrustedSenderError, type BridgeHandlers, type IpcInvokeEventLike, type IpcMainLike } from '../../../main/ipc.js';
import { isAllowedUrl } from '../../../main/security.js';

class FakeIpcMain implements IpcMainLike {
  readonly handlers = new Map<string, (event: IpcInvokeEventLike, ...args: unknown[]) => unknown>();
  handle(channel: string, listener: (event: IpcInvokeEventLike, ...args: unknown[]) => unknown): void {
    if (this.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
  invoke(channel: string, frameUrl: string | null, ...args: unknown[]): unknown {
    const handler = this.handlers.get(channel);
    if (!handler) throw new Error(`no handler for ${channel}`);
    return handler({ senderFrame: frameUrl === null ? null : { url: frameUrl } }, ...args);
  }
}

const BACKEND = 'http://127.0.0.1:40000';
const view = {
  settings: { llmBaseUrl: '', llmModel: '', databaseUrl: '', redisUrl: '', logLevel: 'info' as const, notifyOnReply: true, updateUrl: '' },
  secrets: { llmApiKey: { set: false }, databasePassword: { set: false } },
  encryptionAvailable: true,
};

const handlers = (extra: Partial<BridgeHandlers> = {}): BridgeHandlers => ({
  getSettings: () => view,
  saveSettings: vi.fn(),
  replyFinished: vi.fn(),
  restartBackend: vi.fn(() => Promise.resolve()),
  ...extra,
});

describe('registerBridgeHandlers', () => {
  it('serves the app frame and refuses any other sender', async () => {
    const ipc = new FakeIpcMain();
    const saveSettings = vi.fn(() => Promise.resolve({ ok: true as const, applied: 'live' as const, message: 'ok', view }));
    registerBridgeHandlers(ipc, handlers({ saveSettings }), (url) => isAllowedUrl(url, BACKEND));

    expect(ipc.invoke(IPC_CHANNELS.getSettings, `${BACKEND}/#/c/1`)).toEqual(view);
    await expect(ipc.invoke(IPC_CHANNELS.saveSettings, `${BACKEND}/`, { settings: { llmModel: 'x' } })).resolves.toMatchObject({ ok: true });
    expect(saveSettings).toHaveBeenCalledWith({ settings: { llmModel: 'x' } });

    expect(() => ipc.invoke(IPC_CHANNELS.getSettings, 'https://evil.example/')).toThrow(UntrustedSenderError);
    expect(() => ipc.invoke(IPC_CHANNELS.saveSettings, 'http://127.0.0.1:40001/', {})).toThrow(/refused an IPC call/);
    expect(() => ipc.invoke(IPC_CHANNELS.getSettings, null)).toThrow(/unknown frame/);
    expect(saveSettings).toHaveBeenCalledTimes(1);
  });

  it('removes its handlers', () => {
    const ipc = new FakeIpcMain();
    const off = registerBridgeHandlers(ipc, handlers(), () => true);
    expect([...ipc.handlers.keys()].sort()).toEqual(
      [IPC_CHANNELS.getSettings, IPC_CHANNELS.saveSettings, IPC_CHANNELS.replyFinished, IPC_CHANNELS.restartBackend].sort(),
    );
    off();
    expect(ipc.handlers.size).toBe(0);
  });
});

describe('replyFinished and restartBackend over IPC', () => {
  it('passes a finished reply and a restart request on only from the app frame', async () => {
    const ipc = new FakeIpcMain();
    const replyFinished = vi.fn();
    const restartBackend = vi.fn(() => Promise.resolve());
    registerBridgeHandlers(ipc, handlers({ replyFinished, restartBackend }), (url) => isAllowedUrl(url, BACKEND));
    ipc.invoke(IPC_CHANNELS.replyFinished, `${BACKEND}/`, { conversationId: 'c1', title: 'Plans' });
    expect(replyFinished).toHaveBeenCalledWith({ conversationId: 'c1', title: 'Plans' });
    await ipc.invoke(IPC_CHANNELS.restartBackend, `${BACKEND}/`);
    expect(restartBackend).toHaveBeenCalledTimes(1);
    expect(() => ipc.invoke(IPC_CHANNELS.replyFinished, 'https://evil.example/', { conversationId: 'c1', title: 'x' })).toThrow(UntrustedSenderError);
    expect(() => ipc.invoke(IPC_CHANNELS.restartBackend, 'https://evil.example/')).toThrow(UntrustedSenderError);
    expect(replyFinished).toHaveBeenCalledTimes(1);
    expect(restartBackend).toHaveBeenCalledTimes(1);
  });

  it.each([
    [{ conversationId: 'c1', title: 'T' }, { conversationId: 'c1', title: 'T' }],
    [{ conversationId: 'c1', title: 'x'.repeat(500) }, { conversationId: 'c1', title: 'x'.repeat(200) }],
    [{ conversationId: '', title: 'T' }, undefined],
    [{ conversationId: 'c'.repeat(201), title: 'T' }, undefined],
    [{ conversationId: 'c1' }, undefined],
    ['c1', undefined],
    [null, undefined],
  ])('parseFinishedReply(%j) is %j', (input, expected) => {
    expect(parseFinishedReply(input)).toEqual(expected);
  });
});
