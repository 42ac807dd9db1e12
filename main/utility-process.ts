import type { HostToBackend } from './backend-protocol.js';
import type { UtilityProcessLike } from './backend-host.js';

/** The slice of Electron's UtilityProcess wrapped here (the real one satisfies it). */
export interface RawUtilityProcess {
  postMessage(message: unknown): void;
  kill(): boolean;
  on(event: 'spawn', listener: () => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'exit', listener: (code: number) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
  stdout: NodeJS.ReadableStream | null;
  stderr: NodeJS.ReadableStream | null;
}

export interface AdaptedUtilityProcess extends UtilityProcessLike {
  /** The last lines the process wrote to stdout/stderr, for error messages. */
  tail(): string;
}

/**
 * Wraps a forked utility process: messages posted before it spawned are held until it has, its
 * output is forwarded line by line to `onLine`, and the last few lines are kept so a crash can be
 * explained with what the backend last said.
 */
export function adaptUtilityProcess(child: RawUtilityProcess, onLine: (line: string) => void, keepLines = 20): AdaptedUtilityProcess {
  let spawned = false;
  const pending: HostToBackend[] = [];
  const lines: string[] = [];
  child.on('spawn', () => {
    spawned = true;
    for (const message of pending.splice(0)) child.postMessage(message);
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    let partial = '';
    stream.on('data', (chunk: Buffer | string) => {
      const text = partial + chunk.toString();
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line.trim() === '') continue;
        lines.push(line);
        if (lines.length > keepLines) lines.shift();
        onLine(line);
      }
    });
  }
  const adapted: AdaptedUtilityProcess = {
    postMessage(message) {
      if (spawned) child.postMessage(message);
      else pending.push(message);
    },
    kill: () => child.kill(),
    on(event: 'message' | 'exit', listener: ((message: unknown) => void) & ((code: number) => void)) {
      child.on(event as 'message', listener);
      return adapted;
    },
    off(event: 'message' | 'exit', listener: ((message: unknown) => void) & ((code: number) => void)) {
      child.off(event as 'message', listener);
      return adapted;
    },
    tail: () => lines.slice(-3).join(' | '),
  };
  return adapted;
}
