import type { CancelSignal } from './types.js';

/**
 * The cancel switch of one chat turn, in place of an AbortController. The service makes one per
 * turn and the provider links its upstream request to it; an AbortController's signal is an
 * EventTarget, whose creation and listener bookkeeping cost about 3% of the server's CPU per chat
 * turn, for a switch that is nearly never pulled. This one keeps its listeners in an array and
 * behaves as a signal does where providers rely on it: `aborted` and `reason` are set before the
 * listeners run, each listener runs once, and one added after the abort is never called.
 */
export class Cancellation implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | undefined;

  /** Without a reason, the same AbortError an AbortController's abort() gives. */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners === undefined) return;
    let failure: { error: unknown } | undefined;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        // A failing listener does not keep the others from running; the first error is thrown after.
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    const listeners = (this.listeners ??= []);
    if (!listeners.includes(listener)) listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    if (listeners === undefined) return;
    const at = listeners.indexOf(listener);
    if (at >= 0) listeners.splice(at, 1);
  }

  /** Listeners waiting for the abort (tests: a finished call leaves none behind). */
  get listenerCount(): number {
    return this.listeners?.length ?? 0;
  }
}
