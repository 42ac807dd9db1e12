import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Shared pieces of the benchmarks: child processes, free ports, load generation, statistics. */
export const root = path.resolve(import.meta.dirname, '..');

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

export const median = (values: number[]): number => percentile(values, 0.5);

export async function waitForHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Orchestra {
  url: string;
  token: string;
  child: ChildProcess;
  dataDir: string;
  /** ms from spawn to the first 200 from /healthz */
  startMs: number;
  stop(): Promise<void>;
}

/**
 * Starts `orchestra serve` from the built dist/ in its own process, as a user would. `nodeArgs`
 * go to that Node process (e.g. `--cpu-prof` to see where a bench's server time goes).
 */
export async function startOrchestra(env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Orchestra> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'orchestra-bench-'));
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, path.join(root, 'bin', 'orchestra.js'), 'serve', '--port', String(port)], {
    env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn', LOG_TO_FILE: 'false', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/healthz`);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`orchestra did not start: ${stderr}`, { cause: err });
  }
  const startMs = performance.now() - started;
  const token = readFileSync(path.join(dataDir, 'api-token'), 'utf8').trim();
  return {
    url,
    token,
    child,
    dataDir,
    startMs,
    // The data directory goes with the server: a chat-turns run leaves some 25 MB of conversations.
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }).then(() => rmSync(dataDir, { recursive: true, force: true })),
  };
}

export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux clock ticks). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * A process's main thread (its event loop, for Node) as the scheduler saw it: ms on a CPU and ms
 * runnable but waiting for one, from /proc/<pid>/task/<pid>/schedstat (Linux). What is left of
 * the wall time it spent asleep: idle, or blocked in a system call.
 */
export function mainThreadOf(pid: number): { runMs: number; waitMs: number } {
  const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number);
  return { runMs: (run ?? NaN) / 1e6, waitMs: (wait ?? NaN) / 1e6 };
}

export function line(name: string, value: string, verdict: string): void {
  process.stdout.write(`${name.padEnd(46)} ${value.padEnd(44)} ${verdict}\n`);
}
