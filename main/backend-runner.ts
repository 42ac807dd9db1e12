import { parseHostMessage, type BackendOverrides, type BackendToHost, type ReconfigureResult } from './backend-protocol.js';

/** The utility process's side of `process.parentPort`, narrowed to what the runner uses. */
export interface ParentPortLike {
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  postMessage(message: BackendToHost): void;
}

/** The backend's answer to a reconfigure: keys now in effect, and keys that need a restart. */
export interface ReconfigureOutcome {
  applied: string[];
  restartRequired: string[];
}

/** What the runner needs from a started backend; `reconfigure` is optional (older backends lack it). */
export interface RunningBackend {
  url: string;
  token: string;
  close(): Promise<void>;
  reconfigure?: (overrides: BackendOverrides) => Promise<ReconfigureOutcome>;
}

export interface RunnerDeps {
  start(overrides: BackendOverrides): Promise<RunningBackend>;
  exit(code: number): void;
  log(line: string): void;
}

export const LIVE_RECONFIGURE_UNSUPPORTED =
  'this backend cannot apply settings while it runs; the desktop restarts it to apply them';

/** One sentence for the person who saved the settings. */
export function describeOutcome(outcome: ReconfigureOutcome): { result: ReconfigureResult; message: string } {
  const live = outcome.applied.length > 0 ? `${outcome.applied.join(', ')} applied live` : '';
  if (outcome.restartRequired.length === 0) return { result: 'applied', message: live || 'nothing to change' };
  const restart = `${outcome.restartRequired.join(', ')} take${outcome.restartRequired.length === 1 ? 's' : ''} effect after a restart`;
  return { result: 'restart-required', message: live ? `${live}; ${restart}` : restart };
}

/**
 * Runs inside the backend utility process: waits for `start`, starts the server and answers with
 * an explicit `server-started` (or `server-failed`) message that main races against a timeout.
 * Returns `stop`, which closes the server once however often it is called (shutdown message,
 * SIGTERM, or both).
 */
export function runBackend(port: ParentPortLike, deps: RunnerDeps): { stop(code?: number): Promise<void> } {
  let server: RunningBackend | undefined;
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  const stop = (code = 0): Promise<void> => {
    stopping ??= (async () => {
      try {
        await starting;
        await server?.close();
      } catch (err) {
        deps.log(`backend close failed: ${(err as Error).message}`);
      }
      port.postMessage({ type: 'stopped' });
      deps.exit(code);
    })();
    return stopping;
  };

  port.on('message', (event) => {
    const message = parseHostMessage(event.data);
    if (message === undefined) {
      deps.log('ignored a malformed message from the desktop host');
      return;
    }
    switch (message.type) {
      case 'start':
        if (starting !== undefined) return;
        starting = deps.start(message.overrides).then(
          (running) => {
            server = running;
            port.postMessage({ type: 'server-started', url: running.url, token: running.token });
          },
          (err: unknown) => {
            port.postMessage({ type: 'server-failed', message: err instanceof Error ? err.message : String(err) });
          },
        );
        return;
      case 'reconfigure': {
        const running = server;
        if (running?.reconfigure === undefined) {
          port.postMessage({ type: 'reconfigured', result: 'restart-required', message: LIVE_RECONFIGURE_UNSUPPORTED });
          return;
        }
        running.reconfigure(message.overrides).then(
          (outcome) => port.postMessage({ type: 'reconfigured', ...describeOutcome(outcome) }),
          (err: unknown) => port.postMessage({ type: 'reconfigured', result: 'refused', message: (err as Error).message }),
        );
        return;
      }
      case 'shutdown':
        void stop(0);
        return;
    }
  });

  return { stop };
}
