import type { HostStatus } from '../preload/api.js';
import { parseBackendMessage, type BackendOverrides, type BackendToHost, type HostToBackend, type ReconfigureResult } from './backend-protocol.js';

/**
 * The part of Electron's `UtilityProcess` the host uses. Main passes the real one; tests pass a
 * fake, so none of this needs Electron to run.
 */
export interface UtilityProcessLike {
  postMessage(message: HostToBackend): void;
  kill(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'exit', listener: (code: number) => void): unknown;
}

export interface BackendInfo {
  url: string;
  token: string;
}

/**
 * A one-time pairing link for the window: asked from the backend with the owner token, so the
 * token itself never goes into a URL (history, logs). The backend sets its HttpOnly session
 * cookie and redirects to the app at `/`.
 */
export async function pairingUrl(info: BackendInfo, fetchImpl: typeof fetch = fetch): Promise<string> {
  const res = await fetchImpl(`${info.url}/api/pairing-codes`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${info.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ label: 'desktop window' }),
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status !== 201) throw new BackendStartError(`the backend refused a pairing code (${res.status})`);
  const { path } = (await res.json()) as { path: string };
  return `${info.url}${path}`;
}

export class BackendStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendStartError';
  }
}

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

/**
 * Races the backend's explicit `server-started` message against a startup timeout and the
 * process exiting early. On timeout the process is killed, so a hung start never lingers.
 */
export function waitForServerStarted(child: UtilityProcessLike, timeoutMs: number, describeExit?: () => string): Promise<BackendInfo> {
  return new Promise<BackendInfo>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const fail = (message: string): void => {
      cleanup();
      reject(new BackendStartError(message));
    };
    const onMessage = (raw: unknown): void => {
      const message: BackendToHost | undefined = parseBackendMessage(raw);
      if (message?.type === 'server-started') {
        cleanup();
        resolve({ url: message.url, token: message.token });
      } else if (message?.type === 'server-failed') {
        child.kill();
        fail(`the backend could not start: ${message.message}`);
      }
    };
    const onExit = (code: number): void => {
      const detail = describeExit?.() ?? '';
      fail(`the backend exited with code ${code} before it was ready${detail ? `: ${detail}` : ''}`);
    };
    const timer = setTimeout(() => {
      child.kill();
      fail(`the backend did not report ready within ${seconds(timeoutMs)}; it was stopped (see the backend log in the data directory)`);
    }, timeoutMs);
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

export interface BackendHostOptions {
  fork: () => UtilityProcessLike;
  /** Read at every start, so a restart picks up saved settings. */
  overrides: () => BackendOverrides;
  startupTimeoutMs?: number;
  stopTimeoutMs?: number;
  reconfigureTimeoutMs?: number;
  /** The crash that makes this many within `restartWindowMs` is not restarted: the host gives up. */
  maxCrashes?: number;
  restartWindowMs?: number;
  /** Wait before the first restart after a crash; doubled for each further crash in the window. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** Where the backend writes its log, named in every crash message so the user can look. */
  logPath?: string;
  onStatus?: (status: HostStatus) => void;
  /** Called after a crash restart brought the backend back (its URL may have changed). */
  onRestarted?: (info: BackendInfo) => void;
  /** Called when the backend keeps crashing and the host stopped restarting it. */
  onFatal?: (message: string) => void;
  /** The last lines the process wrote, for error messages. */
  describeExit?: () => string;
  now?: () => number;
}

interface Running {
  child: UtilityProcessLike;
  exited: Promise<number>;
  info: BackendInfo | undefined;
}

/**
 * Hosts the backend in a utility process: start with a ready handshake, restart after a crash
 * (a bounded number of times), apply settings, and stop within a time limit.
 */
export class BackendHost {
  private current: Running | undefined;
  private stopping = false;
  private crashes: number[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly o: Required<Omit<BackendHostOptions, 'onStatus' | 'onRestarted' | 'onFatal' | 'describeExit' | 'logPath'>> &
    Pick<BackendHostOptions, 'onStatus' | 'onRestarted' | 'onFatal' | 'describeExit' | 'logPath'>;

  constructor(options: BackendHostOptions) {
    this.o = {
      startupTimeoutMs: 20_000,
      stopTimeoutMs: 5_000,
      reconfigureTimeoutMs: 3_000,
      maxCrashes: 3,
      restartWindowMs: 60_000,
      restartDelayMs: 500,
      maxRestartDelayMs: 8_000,
      now: Date.now,
      ...options,
    };
  }

  /** The wait before restarting after the `crashCount`-th crash in the window (1-based). */
  restartDelay(crashCount: number): number {
    return Math.min(this.o.restartDelayMs * 2 ** Math.max(0, crashCount - 1), this.o.maxRestartDelayMs);
  }

  get info(): BackendInfo | undefined {
    return this.current?.info;
  }

  private status(state: HostStatus['state'], message: string, crash?: HostStatus['crash']): void {
    const status: HostStatus = { state, message, at: new Date(this.o.now()).toISOString() };
    if (crash !== undefined) status.crash = crash;
    this.o.onStatus?.(status);
  }

  async start(): Promise<BackendInfo> {
    if (this.current !== undefined) throw new Error('the backend is already running');
    this.stopping = false;
    this.status('starting', 'starting the backend');
    const child = this.o.fork();
    const exited = new Promise<number>((resolve) => child.on('exit', resolve));
    const running: Running = { child, exited, info: undefined };
    this.current = running;
    const ready = waitForServerStarted(child, this.o.startupTimeoutMs, this.o.describeExit);
    child.postMessage({ type: 'start', overrides: this.o.overrides() });
    try {
      running.info = await ready;
    } catch (err) {
      this.current = undefined;
      this.status('failed', (err as Error).message);
      throw err;
    }
    void exited.then((code) => this.onExit(running, code));
    this.status('running', `the backend is running at ${running.info.url}`);
    return running.info;
  }

  private onExit(running: Running, code: number): void {
    if (this.current !== running || this.stopping) return;
    this.current = undefined;
    const now = this.o.now();
    this.crashes = this.crashes.filter((t) => now - t < this.o.restartWindowMs);
    this.crashes.push(now);
    const detail = this.o.describeExit?.() ?? '';
    const why = `The backend stopped unexpectedly (exit code ${code})${detail ? `: ${detail}` : ''}.`;
    const crash = (restarting: boolean): HostStatus['crash'] => ({
      exitCode: code,
      crashesInWindow: this.crashes.length,
      restarting,
      ...(this.o.logPath !== undefined ? { logPath: this.o.logPath } : {}),
    });
    if (this.crashes.length >= this.o.maxCrashes) {
      const message = `${why} It crashed ${this.crashes.length} times within ${seconds(this.o.restartWindowMs)}, so it is not restarted again.`;
      this.status('failed', message, crash(false));
      this.o.onFatal?.(message);
      return;
    }
    const delay = this.restartDelay(this.crashes.length);
    this.status('restarting', `${why} Restarting it in ${seconds(delay)}.`, crash(true));
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping || this.current !== undefined) return;
      this.start().then(
        (info) => this.o.onRestarted?.(info),
        (err: unknown) => this.o.onFatal?.((err as Error).message),
      );
    }, delay);
  }

  /**
   * Starts the backend again after it stopped for good (the user pressed Restart): the crash count
   * starts over, so a backend that was fixed (a setting changed, a disk freed) gets its chances.
   */
  async restartAfterFailure(): Promise<BackendInfo> {
    if (this.current?.info !== undefined) return this.current.info;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.crashes = [];
    return this.start();
  }

  /**
   * Sends new settings to the running backend and reports what it did with them. No answer in
   * time counts as `restart-required`: a restart applies settings whatever the backend supports.
   */
  reconfigure(overrides: BackendOverrides): Promise<{ result: ReconfigureResult | 'not-running'; message: string }> {
    const running = this.current;
    if (running?.info === undefined) return Promise.resolve({ result: 'not-running', message: 'the backend is not running' });
    const { child } = running;
    return new Promise((resolve) => {
      const done = (result: { result: ReconfigureResult; message: string }): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(result);
      };
      const onMessage = (raw: unknown): void => {
        const message = parseBackendMessage(raw);
        if (message?.type === 'reconfigured') done({ result: message.result, message: message.message });
      };
      const timer = setTimeout(
        () =>
          done({ result: 'restart-required', message: `the backend did not answer the reconfigure message within ${seconds(this.o.reconfigureTimeoutMs)}` }),
        this.o.reconfigureTimeoutMs,
      );
      child.on('message', onMessage);
      child.postMessage({ type: 'reconfigure', overrides });
    });
  }

  /** Stops the backend (graceful shutdown message, then kill after `stopTimeoutMs`) and starts it again. */
  async restart(): Promise<BackendInfo> {
    await this.stop();
    return this.start();
  }

  /**
   * Asks the backend to close in order and waits for it to exit; kills it when it takes longer
   * than `stopTimeoutMs`. Safe to call at any time and more than once.
   */
  async stop(): Promise<void> {
    const running = this.current;
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (running === undefined) return;
    this.current = undefined;
    const { child, exited } = running;
    try {
      child.postMessage({ type: 'shutdown' });
    } catch {
      // already gone: the exit promise settles below
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.o.stopTimeoutMs);
    });
    const result = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      child.kill();
      const killTimeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1_000);
      });
      await Promise.race([exited, killTimeout]);
      clearTimeout(timer);
    }
    this.status('stopped', 'the backend is stopped');
  }
}
