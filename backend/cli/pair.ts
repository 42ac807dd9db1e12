import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ownerTokenFile } from '../access/owner-token.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { CliIo } from './io.js';

export const PAIR_HELP = `orchestra pair [--config FILE] [--url URL] [--scope admin|user] [--label TEXT]

Prints a fresh one-time pairing link for the running server. Open it in the browser to pair:
it works once and expires after 10 minutes. The command asks the server for the code with the
owner token (API_TOKEN, else DATA_DIR/api-token), on the configured HOST and API_PORT.

  --url URL       the server to ask (default http://<HOST>:<API_PORT> from the configuration;
                  a wildcard HOST is reached on 127.0.0.1)
  --scope SCOPE   the paired browser's scope: admin (default) or user
  --label TEXT    a label for the session in GET /api/sessions (default: the browser's user agent)`;

function ownerToken(apiToken: string | undefined, dataDir: string): string | undefined {
  if (apiToken !== undefined) return apiToken;
  try {
    const token = readFileSync(ownerTokenFile(dataDir), 'utf8').trim();
    return token.length > 0 ? token : undefined;
  } catch {
    return undefined;
  }
}

function baseUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${reachable}:${port}`;
}

/** `orchestra pair`: exit 0 with the link on stdout, 1 when the server refused or is not running, 2 on bad usage. */
export async function runPairCli(argv: string[], io: CliIo): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        url: { type: 'string' },
        scope: { type: 'string' },
        label: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    io.stderr.write(`orchestra pair: ${(err as Error).message}\n${PAIR_HELP}\n`);
    return 2;
  }
  if (flags.help === true) {
    io.stdout.write(`${PAIR_HELP}\n`);
    return 0;
  }
  if (flags.scope !== undefined && flags.scope !== 'admin' && flags.scope !== 'user') {
    io.stderr.write('orchestra pair: --scope must be admin or user\n');
    return 2;
  }
  let config;
  try {
    config = loadConfig({ env: io.env, cwd: io.cwd, flags: flags.config !== undefined ? { config: flags.config } : {} }).config;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`orchestra: configuration error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const dataDir = path.resolve(io.cwd, config.dataDir);
  const token = ownerToken(config.apiToken, dataDir);
  if (token === undefined) {
    io.stderr.write(`orchestra pair: no owner token: set API_TOKEN or start the server once (it writes ${ownerTokenFile(dataDir)})\n`);
    return 1;
  }
  const base = (flags.url ?? baseUrl(config.host, config.apiPort)).replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/api/pairing-codes`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...(flags.scope !== undefined ? { scope: flags.scope } : {}), ...(flags.label !== undefined ? { label: flags.label } : {}) }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    io.stderr.write(`orchestra pair: the server at ${base} did not answer (${(err as Error).message}); is \`orchestra serve\` running?\n`);
    return 1;
  }
  if (res.status !== 201) {
    const text = await res.text().catch(() => '');
    io.stderr.write(`orchestra pair: ${base} answered ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}\n`);
    return 1;
  }
  const body = (await res.json()) as { path: string; expiresAt: string };
  io.stdout.write(`${base}${body.path}\n`);
  io.stderr.write(`works once, until ${body.expiresAt}\n`);
  return 0;
}
