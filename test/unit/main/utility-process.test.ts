import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { adaptUtilityProcess } from '../../../main/utility-process.js';

class RawFake extends EventEmitter {
  readonly posted: unknown[] = [];
  stdout = new PassThrough();
  stderr = new PassThrough();
  postMessage(m: unknown): void {
    this.posted.push(m);
  }
  kill(): boolean {
    return true;
  }
}

describe('adaptUtilityProcess', () => {
  it('holds messages until the process has spawned', () => {
    const raw = new RawFake();
    const child = adaptUtilityProcess(raw, () => undefined);
    child.postMessage({ type: 'start', overrides: {} });
    expect(raw.posted).toEqual([]);
    raw.emit('spawn');
    expect(raw.posted).toEqual([{ type: 'start', overrides: {} }]);
    child.postMessage({ type: 'shutdown' });
    expect(raw.posted).toHaveLength(2);
  });

  it('forwards output line by line and keeps the last lines for crash messages', () => {
    const raw = new RawFake();
    const onLine = vi.fn();
    const child = adaptUtilityProcess(raw, onLine, 5);
    raw.stdout.write('one\ntw');
    raw.stdout.write('o\n\n');
    raw.stderr.write('three\nfour\n');
    expect(onLine.mock.calls.map((c) => c[0] as string)).toEqual(['one', 'two', 'three', 'four']);
    expect(child.tail()).toBe('two | three | four');
  });

  it('passes message and exit listeners through', () => {
    const raw = new RawFake();
    const child = adaptUtilityProcess(raw, () => undefined);
    const onExit = vi.fn();
    child.on('exit', onExit);
    raw.emit('exit', 3);
    child.off('exit', onExit);
    raw.emit('exit', 4);
    expect(onExit).toHaveBeenCalledExactlyOnceWith(3);
  });
});
