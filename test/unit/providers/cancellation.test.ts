import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../../backend/providers/cancellation.js';

describe('Cancellation', () => {
  it('sets aborted and the reason before it calls each listener once, in the order they were added', () => {
    const c = new Cancellation();
    const seen: string[] = [];
    const first = (): void => void seen.push(`first ${String(c.aborted)} ${String(c.reason)}`);
    c.addEventListener('abort', first);
    c.addEventListener('abort', first);
    c.addEventListener('abort', () => seen.push('second'));
    expect(c.listenerCount).toBe(2);
    c.abort('stopped');
    c.abort('again');
    expect(seen).toEqual(['first true stopped', 'second']);
    expect(c.reason).toBe('stopped');
    expect(c.listenerCount).toBe(0);
  });

  it('gives the AbortError an AbortController gives when no reason is passed', () => {
    const c = new Cancellation();
    c.abort();
    const standard = new AbortController();
    standard.abort();
    expect(c.reason).toBeInstanceOf(DOMException);
    expect((c.reason as DOMException).name).toBe((standard.signal.reason as DOMException).name);
  });

  it('never calls a removed listener, nor one added after the abort', () => {
    const c = new Cancellation();
    let calls = 0;
    const listener = (): void => void calls++;
    c.addEventListener('abort', listener);
    c.removeEventListener('abort', listener);
    c.removeEventListener('abort', () => undefined);
    c.abort();
    c.addEventListener('abort', listener);
    expect(calls).toBe(0);
    expect(c.listenerCount).toBe(0);
  });

  it('runs every listener even when one throws, then throws the first error', () => {
    const c = new Cancellation();
    const seen: string[] = [];
    c.addEventListener('abort', () => {
      throw new Error('listener failed');
    });
    c.addEventListener('abort', () => seen.push('after'));
    expect(() => c.abort()).toThrow('listener failed');
    expect(seen).toEqual(['after']);
    expect(c.aborted).toBe(true);
  });
});
