import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HostStatus } from '../../../preload/api.js';
import { BackendHost, BackendStartError, waitForServerStarted } from '../../../main/backend-host.js';
import { FakeUtilityProcess, healthyBackend } from './fake-utility-process.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('waitForServerStarted (the ready handshake)', () => {
  it('resolves with url and token when server-started arrives', async () => {
    const child = new FakeUtilityProcess();
    const ready = waitForServerStarted(child, 5_000);
    child.reply({ type: 'log', line: 'noise first' });
    child.reply({ type: 'server-started', url: 'http://127.0.0.1:4100', token: 'abc' });
    await expect(ready).resolves.toEqual({ url: 'http://127.0.0.1:4100', token: 'abc' });
    expect(child.listenerCount('message')).toBe(0);
    expect(child.listenerCount('exit')).toBe(0);
  });

  it('ignores malformed messages that claim to be server-started', async () => {
    vi.useFakeTimers();
    const child = new FakeUtilityProcess();
    const ready = waitForServerStarted(child, 1_000);
    const failed = expect(ready).rejects.toThrow(/did not report ready/);
    child.emit('message', { type: 'server-started', url: 42 });
    await vi.advanceTimersByTimeAsync(1_000);
    await failed;
  });

  it('rejects with a clear message and kills the process on timeout', async () => {
    vi.useFakeTimers();
    const child = new FakeUtilityProcess();
    const ready = waitForServerStarted(child, 20_000);
    const failed = expect(ready).rejects.toThrow('the backend did not report ready within 20 s; it was stopped (see the backend log in the data directory)');
    await vi.advanceTimersByTimeAsync(19_999);
    expect(child.killed).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await failed;
    expect(child.killed).toBe(1);
    await expect(ready).rejects.toBeInstanceOf(BackendStartError);
  });

  it('rejects when the process exits before it is ready, with its last words', async () => {
    const child = new FakeUtilityProcess();
    const ready = waitForServerStarted(child, 5_000, () => 'Error: Cannot find module better-sqlite3');
    child.exit(1);
    await expect(ready).rejects.toThrow('the backend exited with code 1 before it was ready: Error: Cannot find module better-sqlite3');
  });

  it('rejects with the reason the backend gives in server-failed', async () => {
    const child = new FakeUtilityProcess();
    const ready = waitForServerStarted(child, 5_000);
    child.reply({ type: 'server-failed', message: 'invalid DATABASE_URL=mysql://x from override' });
    await expect(ready).rejects.toThrow('the backend could not start: invalid DATABASE_URL=mysql://x from override');
    expect(child.killed).toBe(1);
  });
});

describe('BackendHost', () => {
  const make = (
    children: FakeUtilityProcess[],
    extra: Partial<ConstructorParameters<typeof BackendHost>[0]> = {},
    setup: (child: FakeUtilityProcess, index: number) => void = () => undefined,
  ) => {
    const statuses: HostStatus[] = [];
    const host = new BackendHost({
      fork: () => {
        const child = new FakeUtilityProcess();
        child.onPost = healthyBackend(`http://127.0.0.1:${40000 + children.length}`);
        setup(child, children.length);
        children.push(child);
        return child;
      },
      overrides: () => ({ dataDir: '/data', apiPort: 0 }),
      onStatus: (s) => statuses.push(s),
      ...extra,
    });
    return { host, statuses };
  };

  it('starts the backend with the current overrides and reports running', async () => {
    const children: FakeUtilityProcess[] = [];
    const { host, statuses } = make(children);
    const info = await host.start();
    expect(info).toEqual({ url: 'http://127.0.0.1:40000', token: 't'.repeat(32) });
    expect(children[0]?.posted[0]).toEqual({ type: 'start', overrides: { dataDir: '/data', apiPort: 0 } });
    expect(statuses.map((s) => s.state)).toEqual(['starting', 'running']);
    await host.stop();
  });

  it('stops gracefully with a shutdown message and does not restart a stopped backend', async () => {
    const children: FakeUtilityProcess[] = [];
    const { host, statuses } = make(children);
    await host.start();
    await host.stop();
    await host.stop(); // idempotent
    expect(children).toHaveLength(1);
    expect(children[0]?.posted.at(-1)).toEqual({ type: 'shutdown' });
    expect(children[0]?.killed).toBe(0);
    expect(statuses.at(-1)?.state).toBe('stopped');
    expect(host.info).toBeUndefined();
  });

  it('kills a backend that ignores the shutdown message after the stop timeout', async () => {
    vi.useFakeTimers();
    const children: FakeUtilityProcess[] = [];
    const { host } = make(children, { stopTimeoutMs: 2_000 });
    await host.start();
    const child = children[0] as FakeUtilityProcess;
    child.onPost = () => undefined; // hangs
    const stopped = host.stop();
    await vi.advanceTimersByTimeAsync(1_999);
    expect(child.killed).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await stopped;
    expect(child.killed).toBe(1);
  });

  it('restarts a crashed backend and reports the new URL', async () => {
    const children: FakeUtilityProcess[] = [];
    const restarted = deferred<{ url: string }>();
    const { host, statuses } = make(children, { restartDelayMs: 0, onRestarted: (info) => restarted.resolve(info) });
    await host.start();
    children[0]?.exit(139);
    const info = await restarted.promise;
    expect(info.url).toBe('http://127.0.0.1:40001');
    expect(host.info?.url).toBe('http://127.0.0.1:40001');
    expect(statuses.map((s) => s.state)).toEqual(['starting', 'running', 'restarting', 'starting', 'running']);
    expect(statuses[2]?.message).toMatch(/stopped unexpectedly \(exit code 139\)/);
    await host.stop();
  });

  it('restarts after a crash with a growing delay, and says so in the status with the log path', async () => {
    vi.useFakeTimers();
    const children: FakeUtilityProcess[] = [];
    const restarted: string[] = [];
    const { host, statuses } = make(children, {
      restartDelayMs: 1_000,
      maxRestartDelayMs: 1_500,
      logPath: '/data/logs/backend.log',
      maxCrashes: 5,
      onRestarted: (info) => restarted.push(info.url),
    });
    await host.start();
    children[0]?.exit(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(statuses.at(-1)).toMatchObject({
      state: 'restarting',
      crash: { exitCode: 1, crashesInWindow: 1, restarting: true, logPath: '/data/logs/backend.log' },
    });
    expect(statuses.at(-1)?.message).toBe('The backend stopped unexpectedly (exit code 1). Restarting it in 1 s.');
    await vi.advanceTimersByTimeAsync(999);
    expect(children).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(children).toHaveLength(2);
    expect(restarted).toEqual(['http://127.0.0.1:40001']);
    // The second crash in the window waits twice as long, capped at maxRestartDelayMs.
    children[1]?.exit(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(statuses.at(-1)?.message).toMatch(/Restarting it in 1\.5 s\.$/);
    await vi.advanceTimersByTimeAsync(1_499);
    expect(children).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(children).toHaveLength(3);
    expect(host.restartDelay(1)).toBe(1_000);
    expect(host.restartDelay(2)).toBe(1_500);
    await host.stop();
  });

  it('stops restarting at the third crash within a minute, says so, and restarts when asked', async () => {
    vi.useFakeTimers();
    let now = 0;
    const children: FakeUtilityProcess[] = [];
    const fatal: string[] = [];
    const { host, statuses } = make(children, { restartDelayMs: 100, now: () => now, onFatal: (m) => fatal.push(m), logPath: '/logs/backend.log' });
    await host.start();
    for (const at of [1_000, 20_000]) {
      now = at;
      children.at(-1)?.exit(134);
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(children).toHaveLength(3);
    expect(fatal).toEqual([]);
    now = 59_000;
    children.at(-1)?.exit(134);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(children).toHaveLength(3);
    expect(fatal).toEqual(['The backend stopped unexpectedly (exit code 134). It crashed 3 times within 60 s, so it is not restarted again.']);
    expect(statuses.at(-1)).toMatchObject({ state: 'failed', crash: { crashesInWindow: 3, restarting: false, logPath: '/logs/backend.log' } });
    expect(host.info).toBeUndefined();

    // The Restart button: a fresh start with a fresh crash count.
    const info = await host.restartAfterFailure();
    expect(info.url).toBe('http://127.0.0.1:40003');
    now = 60_000;
    children.at(-1)?.exit(134);
    await vi.advanceTimersByTimeAsync(0);
    expect(statuses.at(-1)).toMatchObject({ state: 'restarting', crash: { crashesInWindow: 1 } });
    await host.stop();
  });

  it('forgets crashes older than the window', async () => {
    vi.useFakeTimers();
    let now = 0;
    const children: FakeUtilityProcess[] = [];
    const fatal: string[] = [];
    const { host } = make(children, { restartDelayMs: 10, now: () => now, onFatal: (m) => fatal.push(m) });
    await host.start();
    for (const at of [0, 30_000, 61_000, 92_000]) {
      now = at;
      children.at(-1)?.exit(1);
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(fatal).toEqual([]);
    expect(children).toHaveLength(5);
    await host.stop();
  });

  it('does not restart a crashed backend once stop was called during the backoff', async () => {
    vi.useFakeTimers();
    const children: FakeUtilityProcess[] = [];
    const { host } = make(children, { restartDelayMs: 1_000 });
    await host.start();
    children[0]?.exit(1);
    await vi.advanceTimersByTimeAsync(10);
    await host.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(children).toHaveLength(1);
  });

  it('sends reconfigure and reports whether the backend applied it live', async () => {
    const children: FakeUtilityProcess[] = [];
    const { host } = make(children);
    expect(await host.reconfigure({ llmModel: 'x' })).toEqual({ result: 'not-running', message: 'the backend is not running' });
    await host.start();
    expect(await host.reconfigure({ llmModel: 'x' })).toEqual({ result: 'restart-required', message: 'not supported' });
    expect(children[0]?.posted).toContainEqual({ type: 'reconfigure', overrides: { llmModel: 'x' } });
    await host.stop();
  });

  it('treats a reconfigure nobody answers as needing a restart', async () => {
    vi.useFakeTimers();
    const children: FakeUtilityProcess[] = [];
    const { host } = make(children, { reconfigureTimeoutMs: 500 });
    await host.start();
    (children[0] as FakeUtilityProcess).onPost = () => undefined;
    const result = host.reconfigure({ llmModel: 'x' });
    await vi.advanceTimersByTimeAsync(500);
    expect(await result).toEqual({ result: 'restart-required', message: 'the backend did not answer the reconfigure message within 0.5 s' });
  });

  it('reports a failed start and can be started again', async () => {
    const children: FakeUtilityProcess[] = [];
    const { host, statuses } = make(children, {}, (child, index) => {
      if (index > 0) return;
      child.onPost = (m, p) => {
        if (m.type === 'start') p.reply({ type: 'server-failed', message: 'port in use' });
      };
    });
    await expect(host.start()).rejects.toThrow('the backend could not start: port in use');
    expect(statuses.at(-1)?.state).toBe('failed');
    await expect(host.start()).resolves.toMatchObject({ url: 'http://127.0.0.1:40001' });
    await host.stop();
  });
});
