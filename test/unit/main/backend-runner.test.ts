import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { BackendToHost } from '../../../main/backend-protocol.js';
import { describeOutcome, LIVE_RECONFIGURE_UNSUPPORTED, runBackend, type ParentPortLike, type RunningBackend } from '../../../main/backend-runner.js';

class FakeParentPort extends EventEmitter implements ParentPortLike {
  readonly sent: BackendToHost[] = [];
  private waiters: Array<() => void> = [];
  postMessage(message: BackendToHost): void {
    this.sent.push(message);
    for (const w of this.waiters.splice(0)) w();
  }
  /** What main would post to the utility process. */
  fromHost(data: unknown): void {
    this.emit('message', { data });
  }
  async next(type: BackendToHost['type']): Promise<BackendToHost> {
    for (;;) {
      const found = this.sent.find((m) => m.type === type);
      if (found) return found;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
}

const server = (extra: Partial<RunningBackend> = {}): RunningBackend => ({
  url: 'http://127.0.0.1:41000',
  token: 'secret-token-0123456789',
  close: vi.fn(() => Promise.resolve()),
  ...extra,
});

describe('runBackend (inside the utility process)', () => {
  it('starts once on `start` and answers server-started with url and token', async () => {
    const port = new FakeParentPort();
    const running = server();
    const start = vi.fn(() => Promise.resolve(running));
    runBackend(port, { start, exit: vi.fn(), log: vi.fn() });
    port.fromHost({ type: 'start', overrides: { dataDir: '/d', apiPort: 0 } });
    port.fromHost({ type: 'start', overrides: { dataDir: '/other' } });
    expect(await port.next('server-started')).toEqual({ type: 'server-started', url: running.url, token: running.token });
    expect(start).toHaveBeenCalledExactlyOnceWith({ dataDir: '/d', apiPort: 0 });
  });

  it('answers server-failed with the error message when the server cannot start', async () => {
    const port = new FakeParentPort();
    runBackend(port, { start: () => Promise.reject(new Error('port 8000 is in use')), exit: vi.fn(), log: vi.fn() });
    port.fromHost({ type: 'start', overrides: {} });
    expect(await port.next('server-failed')).toEqual({ type: 'server-failed', message: 'port 8000 is in use' });
  });

  it('says plainly when live reconfigure is not supported, and applies it when it is', async () => {
    const port = new FakeParentPort();
    runBackend(port, { start: () => Promise.resolve(server()), exit: vi.fn(), log: vi.fn() });
    port.fromHost({ type: 'start', overrides: {} });
    await port.next('server-started');
    port.fromHost({ type: 'reconfigure', overrides: { llmModel: 'm' } });
    expect(await port.next('reconfigured')).toEqual({ type: 'reconfigured', result: 'restart-required', message: LIVE_RECONFIGURE_UNSUPPORTED });

    const live = new FakeParentPort();
    const reconfigure = vi.fn(() => Promise.resolve({ applied: ['databaseUrl'], restartRequired: [] }));
    runBackend(live, { start: () => Promise.resolve(server({ reconfigure })), exit: vi.fn(), log: vi.fn() });
    live.fromHost({ type: 'start', overrides: {} });
    await live.next('server-started');
    live.fromHost({ type: 'reconfigure', overrides: { llmModel: 'm' } });
    expect(await live.next('reconfigured')).toEqual({ type: 'reconfigured', result: 'applied', message: 'databaseUrl applied live' });
    expect(reconfigure).toHaveBeenCalledWith({ llmModel: 'm' });
  });

  it('refuses settings the backend rejects, so main does not restart into a broken config', async () => {
    const port = new FakeParentPort();
    const reconfigure = vi.fn(() => Promise.reject(new Error('invalid LLM_BASE_URL=ftp://x from override')));
    runBackend(port, { start: () => Promise.resolve(server({ reconfigure })), exit: vi.fn(), log: vi.fn() });
    port.fromHost({ type: 'start', overrides: {} });
    await port.next('server-started');
    port.fromHost({ type: 'reconfigure', overrides: { llmBaseUrl: 'ftp://x' } });
    expect(await port.next('reconfigured')).toEqual({ type: 'reconfigured', result: 'refused', message: 'invalid LLM_BASE_URL=ftp://x from override' });
  });

  it('closes the server once on shutdown (and SIGTERM), then exits 0', async () => {
    const port = new FakeParentPort();
    const close = vi.fn(() => Promise.resolve());
    const running = server({ close });
    const exit = vi.fn();
    const runner = runBackend(port, { start: () => Promise.resolve(running), exit, log: vi.fn() });
    port.fromHost({ type: 'start', overrides: {} });
    await port.next('server-started');
    port.fromHost({ type: 'shutdown' });
    await runner.stop(0);
    await port.next('stopped');
    expect(close).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledExactlyOnceWith(0);
  });

  it('ignores malformed messages', () => {
    const port = new FakeParentPort();
    const log = vi.fn();
    const start = vi.fn();
    runBackend(port, { start, exit: vi.fn(), log });
    port.fromHost('start');
    port.fromHost({ type: 'start', overrides: { nested: { no: 1 } } });
    port.fromHost({ type: 'drop-tables' });
    expect(start).not.toHaveBeenCalled();
    expect(log).toHaveBeenCalledTimes(3);
  });
});

describe('describeOutcome', () => {
  it.each([
    [{ applied: [], restartRequired: [] }, { result: 'applied', message: 'nothing to change' }],
    [{ applied: ['databaseUrl'], restartRequired: [] }, { result: 'applied', message: 'databaseUrl applied live' }],
    [{ applied: [], restartRequired: ['llmModel'] }, { result: 'restart-required', message: 'llmModel takes effect after a restart' }],
    [
      { applied: ['databaseUrl'], restartRequired: ['llmModel', 'redisUrl'] },
      { result: 'restart-required', message: 'databaseUrl applied live; llmModel, redisUrl take effect after a restart' },
    ],
  ])('%j → %j', (outcome, expected) => {
    expect(describeOutcome(outcome)).toEqual(expected);
  });
});
