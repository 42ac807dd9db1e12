import { EventEmitter } from 'node:events';
import type { HostToBackend } from '../../../main/backend-protocol.js';
import type { UtilityProcessLike } from '../../../main/backend-host.js';

/**
 * A stand-in for Electron's UtilityProcess: records what main posts, and lets a test play the
 * backend (answer messages, exit, hang).
 */
export class FakeUtilityProcess extends EventEmitter implements UtilityProcessLike {
  readonly posted: HostToBackend[] = [];
  killed = 0;
  exited = false;
  /** Called for every message main posts; the test decides how the "backend" reacts. */
  onPost: (message: HostToBackend, self: FakeUtilityProcess) => void = () => undefined;

  postMessage(message: HostToBackend): void {
    if (this.exited) throw new Error('process is gone');
    this.posted.push(message);
    this.onPost(message, this);
  }

  kill(): boolean {
    this.killed++;
    this.exit(143);
    return true;
  }

  /** The backend answers main. */
  reply(message: unknown): void {
    queueMicrotask(() => this.emit('message', message));
  }

  exit(code: number): void {
    if (this.exited) return;
    this.exited = true;
    queueMicrotask(() => this.emit('exit', code));
  }
}

/** A backend that starts fine and shuts down when asked. */
export function healthyBackend(url = 'http://127.0.0.1:40000', token = 't'.repeat(32)) {
  return (message: HostToBackend, p: FakeUtilityProcess): void => {
    if (message.type === 'start') p.reply({ type: 'server-started', url, token });
    if (message.type === 'reconfigure') p.reply({ type: 'reconfigured', result: 'restart-required', message: 'not supported' });
    if (message.type === 'shutdown') {
      p.reply({ type: 'stopped' });
      p.exit(0);
    }
  };
}
