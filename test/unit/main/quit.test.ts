import { afterEach, describe, expect, it, vi } from 'vitest';
import { createQuitGuard } from '../../../main/quit.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('createQuitGuard', () => {
  it('runs the steps once, in order, however often quit is asked for', async () => {
    const order: string[] = [];
    const guard = createQuitGuard({
      stepTimeoutMs: 1_000,
      steps: [
        { name: 'a', run: () => void order.push('a') },
        { name: 'b', run: () => Promise.resolve().then(() => void order.push('b')) },
      ],
    });
    expect(guard.state).toBe('idle');
    const first = guard.run();
    const second = guard.run();
    expect(second).toBe(first);
    expect(guard.state).toBe('running');
    const outcomes = await first;
    await guard.run();
    expect(order).toEqual(['a', 'b']);
    expect(outcomes.map((o) => [o.name, o.result])).toEqual([
      ['a', 'ok'],
      ['b', 'ok'],
    ]);
    expect(guard.state).toBe('done');
  });

  it('abandons a hanging step at its time limit and still runs the rest', async () => {
    vi.useFakeTimers();
    const logs: string[] = [];
    const ran: string[] = [];
    const guard = createQuitGuard({
      stepTimeoutMs: 3_000,
      log: (l) => logs.push(l),
      steps: [
        { name: 'backend', run: () => new Promise(() => undefined), timeoutMs: 8_000 },
        { name: 'database', run: () => new Promise(() => undefined) },
        { name: 'windows', run: () => void ran.push('windows') },
      ],
    });
    const done = guard.run();
    await vi.advanceTimersByTimeAsync(7_999);
    expect(ran).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(logs).toEqual(['quit step "backend" timed out after 8000 ms']);
    await vi.advanceTimersByTimeAsync(3_000);
    const outcomes = await done;
    expect(outcomes.map((o) => o.result)).toEqual(['timeout', 'timeout', 'ok']);
    expect(ran).toEqual(['windows']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('records a failing step (sync or async) and carries on', async () => {
    const logs: string[] = [];
    const guard = createQuitGuard({
      stepTimeoutMs: 1_000,
      log: (l) => logs.push(l),
      steps: [
        {
          name: 'sync',
          run: () => {
            throw new Error('boom');
          },
        },
        { name: 'async', run: () => Promise.reject(new Error('later boom')) },
        { name: 'last', run: () => undefined },
      ],
    });
    const outcomes = await guard.run();
    expect(outcomes.map((o) => [o.result, o.error])).toEqual([
      ['failed', 'boom'],
      ['failed', 'later boom'],
      ['ok', undefined],
    ]);
    expect(logs).toEqual(['quit step "sync" failed: boom', 'quit step "async" failed: later boom']);
  });

  it('does not report an unhandled rejection from a step that fails after its timeout', async () => {
    vi.useFakeTimers();
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const guard = createQuitGuard({
        stepTimeoutMs: 100,
        steps: [{ name: 'slow', run: () => new Promise((_r, reject) => setTimeout(() => reject(new Error('late')), 500)) }],
      });
      const done = guard.run();
      await vi.advanceTimersByTimeAsync(100);
      expect((await done)[0]?.result).toBe('timeout');
      await vi.advanceTimersByTimeAsync(400);
      vi.useRealTimers();
      await new Promise((r) => setImmediate(r));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});
