import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { BreakerSnapshot } from '../breaker/breaker.js';
import type { BreakersBody } from '../http/routes/breakers.js';
import type { CliIo } from './io.js';

export const BREAKER_HELP = `orchestra breaker [--url URL] [--token TOKEN] [--interval MS] [--once]

Watches every circuit breaker of a running server live: state, failures, last error, and the
PostgreSQL outbox backlog. Ctrl-C exits.

  --url URL       the server (default http://127.0.0.1:$API_PORT, else http://127.0.0.1:8000;
                  https:// when TLS_CERT_FILE is set)
  --token TOKEN   the API token (default $API_TOKEN, else the one in $DATA_DIR/api-token,
                  DATA_DIR defaulting to ./data)
  --interval MS   how often to poll (default 1000)
  --once          print one snapshot and exit (0 when every breaker is closed, 1 otherwise)`;

interface StatusBody {
  status: string;
  version?: string;
}

interface Sample {
  status: StatusBody;
  breakers: BreakersBody;
}

class TokenRefused extends Error {}

const CLEAR = '\x1b[H\x1b[2J';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';

function resolveToken(explicit: string | undefined, io: CliIo): string | undefined {
  if (explicit !== undefined) return explicit;
  const fromEnv = io.env.API_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const dataDir = path.resolve(io.cwd, io.env.DATA_DIR ?? './data');
  try {
    const token = readFileSync(path.join(dataDir, 'api-token'), 'utf8').trim();
    return token.length > 0 ? token : undefined;
  } catch {
    return undefined;
  }
}

async function getJson<T>(url: string, token: string, timeoutMs: number): Promise<T> {
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) });
  if (res.status === 401 || res.status === 403) throw new TokenRefused(`the server refused the token (${res.status})`);
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return (await res.json()) as T;
}

const ago = (iso: string | null, now: number): string => {
  if (iso === null) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ago`;
};

const pad = (text: string, width: number): string => (text.length >= width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));

function stateLabel(state: BreakerSnapshot['state'], color: boolean): string {
  const text = pad(state === 'halfOpen' ? 'half-open' : state, 10);
  if (!color) return text;
  const code = state === 'closed' ? 32 : state === 'open' ? 31 : 33;
  return `\x1b[${code}m${text}\x1b[0m`;
}

/** The screen for one sample; pure, so it is tested as text. */
export function renderSample(url: string, sample: Sample, now: number, color = false): string {
  const { status, breakers } = sample;
  const db = breakers.database;
  const lines: string[] = [];
  lines.push(`Orchestra ${url}  status: ${status.status}  (${new Date(now).toLocaleTimeString()})`);
  let dbLine = `database: ${db.backend}  mode ${db.mode}`;
  if (db.breaker !== null) dbLine += `  breaker ${db.breaker === 'halfOpen' ? 'half-open' : db.breaker}`;
  if (db.sync) {
    const s = db.sync;
    dbLine += `  outbox ${s.pendingSync}`;
    if (s.oldestPendingSeconds !== null) dbLine += ` (oldest ${s.oldestPendingSeconds.toFixed(1)}s)`;
    dbLine += `  pushed ${s.pushedRows}  pulled ${s.pulledRows}`;
    if (s.deadLetters > 0) dbLine += `  refused ${s.deadLetters}`;
    lines.push(dbLine, `  target ${s.target}${s.ready ? '' : ' (not reached yet)'}${s.lastError ? `  last error: ${s.lastError}` : ''}`);
  } else {
    lines.push(dbLine);
  }
  lines.push('');
  lines.push(`${pad('BREAKER', 30)} ${pad('STATE', 10)} ${'FAILS'.padStart(6)} ${'IN A ROW'.padStart(8)} ${'TIMEOUTS'.padStart(8)} ${'REJECTS'.padStart(8)}  LAST ERROR`);
  if (breakers.breakers.length === 0) lines.push('(no breakers yet: no remote dependency has been used)');
  for (const b of breakers.breakers) {
    const error = b.lastError === null ? '-' : `${b.lastError} (${ago(b.lastErrorAt, now)})`;
    lines.push(
      `${pad(b.name, 30)} ${stateLabel(b.state, color)} ${String(b.failures).padStart(6)} ${String(b.consecutiveFailures).padStart(8)} ${String(b.timeouts).padStart(8)} ${String(b.rejects).padStart(8)}  ${error}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** What changed between two samples enough to print again when the output is not a terminal. */
const fingerprint = (s: Sample): string =>
  JSON.stringify([
    s.status.status,
    s.breakers.database.mode,
    s.breakers.database.pendingSync,
    s.breakers.breakers.map((b) => [b.name, b.state, b.failures, b.lastError]),
  ]);

/** `orchestra breaker`: follows a running server until Ctrl-C. */
export async function runBreakerCli(argv: string[], io: CliIo): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        interval: { type: 'string' },
        once: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    io.stderr.write(`orchestra breaker: ${(err as Error).message}\n${BREAKER_HELP}\n`);
    return 2;
  }
  if (flags.help === true) {
    io.stdout.write(`${BREAKER_HELP}\n`);
    return 0;
  }
  const interval = flags.interval === undefined ? 1000 : Number(flags.interval);
  if (!Number.isInteger(interval) || interval < 100) {
    io.stderr.write('orchestra breaker: --interval must be a whole number of milliseconds, at least 100\n');
    return 2;
  }
  // Under TLS the server speaks only HTTPS (a self-signed certificate needs NODE_EXTRA_CA_CERTS).
  const scheme = io.env.TLS_CERT_FILE ? 'https' : 'http';
  const base = (flags.url ?? `${scheme}://127.0.0.1:${io.env.API_PORT ?? '8000'}`).replace(/\/+$/, '');
  const token = resolveToken(flags.token, io);
  if (token === undefined) {
    io.stderr.write('orchestra breaker: no API token; pass --token, set API_TOKEN, or run where DATA_DIR/api-token is readable\n');
    return 2;
  }

  const tty = (io.stdout as NodeJS.WriteStream).isTTY === true;
  const requestTimeout = Math.max(1000, interval * 2);
  const sample = async (): Promise<Sample> => {
    const [status, breakers] = await Promise.all([
      getJson<StatusBody>(`${base}/api/status`, token, requestTimeout),
      getJson<BreakersBody>(`${base}/api/breakers`, token, requestTimeout),
    ]);
    return { status, breakers };
  };

  if (flags.once === true) {
    try {
      const s = await sample();
      io.stdout.write(renderSample(base, s, Date.now()));
      return s.breakers.breakers.every((b) => b.state === 'closed') ? 0 : 1;
    } catch (err) {
      io.stderr.write(`orchestra breaker: ${err instanceof TokenRefused ? err.message : `cannot reach ${base}: ${(err as Error).message}`}\n`);
      return 2;
    }
  }

  return new Promise<number>((resolve) => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let last = '';
    const finish = (code: number): void => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      if (tty) io.stdout.write(SHOW_CURSOR);
      resolve(code);
    };
    io.onSignal('SIGINT', () => {
      if (tty) io.stdout.write('\n');
      finish(0);
    });
    io.onSignal('SIGTERM', () => finish(0));
    if (tty) io.stdout.write(HIDE_CURSOR);

    const tick = async (): Promise<void> => {
      let screen: string;
      let print: string;
      try {
        const s = await sample();
        screen = renderSample(base, s, Date.now(), tty);
        print = fingerprint(s);
      } catch (err) {
        if (err instanceof TokenRefused) {
          io.stderr.write(`orchestra breaker: ${err.message}; pass the right --token\n`);
          finish(2);
          return;
        }
        // The server may be restarting: keep following it.
        screen = `Orchestra ${base}  cannot reach the server: ${(err as Error).message}; retrying every ${interval} ms\n`;
        print = `down:${(err as Error).message}`;
      }
      if (stopped) return;
      if (tty) io.stdout.write(`${CLEAR}${screen}\nCtrl-C to exit\n`);
      else if (print !== last) io.stdout.write(`${screen}\n`);
      last = print;
      timer = setTimeout(() => void tick(), interval);
    };
    void tick();
  });
}
