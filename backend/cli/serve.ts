import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type LoadOptions } from '../config/load.js';
import { MigrationError } from '../data/migrate.js';
import { PortInUseError } from '../http/listen.js';
import { isLoopbackBind } from '../http/security.js';
import { startServer } from '../server.js';
import { banner } from './banner.js';
import type { CliIo } from './io.js';

export const SERVE_HELP = `orchestra serve [--config FILE] [--port N] [--host ADDR] [--log-level LEVEL] [--log-format pretty|json] [--debug]

Starts the backend and serves the app at /. Settings come from defaults, config.yaml (or
--config FILE), .env, the environment and these flags, later ones winning.

The console shows the banner, then warnings and errors (--log-level debug shows every line,
requests included); the log file keeps every line as JSON. --log-format json writes the JSON
lines to stdout instead, for services that collect it.`;

/** `orchestra serve`: runs until SIGINT/SIGTERM, then closes in order within a time limit. */
export async function runServe(argv: string[], io: CliIo): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        debug: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    io.stderr.write(`orchestra serve: ${(err as Error).message}\n${SERVE_HELP}\n`);
    return 2;
  }
  if (flags.help === true) {
    io.stdout.write(`${SERVE_HELP}\n`);
    return 0;
  }

  const loadOptions: LoadOptions = {
    env: io.env,
    cwd: io.cwd,
    flags: {
      ...(flags.config !== undefined ? { config: flags.config } : {}),
      ...(flags.port !== undefined ? { port: flags.port } : {}),
      ...(flags.host !== undefined ? { host: flags.host } : {}),
      ...(flags['log-level'] !== undefined ? { logLevel: flags['log-level'] } : {}),
      ...(flags['log-format'] !== undefined ? { logFormat: flags['log-format'] } : {}),
      ...(flags.debug !== undefined ? { debug: flags.debug } : {}),
    },
  };
  let loaded;
  try {
    loaded = loadConfig(loadOptions);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`orchestra: configuration error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  let server;
  try {
    server = await startServer(loaded.config, { sources: loaded.sources });
  } catch (err) {
    if (err instanceof PortInUseError || err instanceof MigrationError || err instanceof ConfigError) {
      io.stderr.write(`orchestra: ${err.message}\n`);
      return 1;
    }
    io.stderr.write(`orchestra: could not start: ${(err as Error).message}\n`);
    return 1;
  }

  const exposed = !isLoopbackBind(loaded.config.host);
  // A one-time code, never the token: the link lands in browser history and terminal scrollback.
  let pairing: string;
  try {
    const link = await server.pairingLink();
    pairing = `${link.url}  (works once, for 10 minutes; \`orchestra pair\` makes another)`;
  } catch (err) {
    pairing = `run \`orchestra pair\` (${(err as Error).message})`;
  }
  io.stderr.write(
    banner({
      // With settings stored through the settings API in effect.
      config: server.config,
      url: server.url,
      wsUrl: server.wsUrl,
      pairing,
      provider: await server.provider(),
      logFile: server.logFile,
      exposed,
    }),
  );

  const hardLimitMs = loaded.config.shutdownHardLimitMs ?? loaded.config.shutdownTimeoutMs * 3;
  return new Promise<number>((resolve) => {
    let stopping = false;
    let stoppedAt = 0;
    // The shutdown did not finish: say why, in the log file too, and end the process at once
    // (whatever hangs may hold the event loop for good, so returning is not enough).
    const force = (why: string, line: string): void => {
      const step = server.shutdownStep();
      server.logger.error({ reason: why, step, elapsedMs: Date.now() - stoppedAt, hardLimitMs }, 'forced exit during shutdown');
      server.logger.flush();
      io.stderr.write(`${line}${step !== undefined ? ` (still on step "${step}")` : ''}\n`);
      resolve(1);
      io.exit?.(1);
    };
    const stop = (signal: string): void => {
      if (stopping) {
        force('second signal', `orchestra: ${signal} again, exiting now`);
        return;
      }
      stopping = true;
      stoppedAt = Date.now();
      io.stderr.write(`orchestra: ${signal} received, shutting down\n`);
      // A hard limit over the per-step limits: a shutdown must never hang the terminal.
      const hard = setTimeout(
        () => force('hard limit', `orchestra: shutdown took too long (over ${hardLimitMs} ms, SHUTDOWN_HARD_LIMIT_MS), exiting with code 1`),
        hardLimitMs,
      );
      hard.unref();
      server
        .close()
        .then(() => {
          clearTimeout(hard);
          resolve(0);
        })
        .catch(() => resolve(1));
    };
    io.onSignal('SIGINT', () => stop('SIGINT'));
    io.onSignal('SIGTERM', () => stop('SIGTERM'));
    // SIGHUP: read the configuration again and apply what can change live (DATABASE_URL, REDIS_URL,
    // the model provider; docs/operations.md).
    io.onSignal('SIGHUP', () => {
      if (stopping) return;
      let next;
      try {
        next = loadConfig(loadOptions).config;
      } catch (err) {
        io.stderr.write(`orchestra: SIGHUP: configuration not reloaded: ${(err as Error).message}\n`);
        return;
      }
      server.reconfigure(next).then(
        (r) => {
          const parts = [r.applied.length > 0 ? `applied ${r.applied.join(', ')}` : 'nothing to apply live'];
          if (r.restartRequired.length > 0) parts.push(`restart needed for ${r.restartRequired.join(', ')}`);
          io.stderr.write(`orchestra: SIGHUP: configuration reloaded; ${parts.join('; ')}\n`);
        },
        (err: unknown) => io.stderr.write(`orchestra: SIGHUP: reconfiguration failed: ${(err as Error).message}\n`),
      );
    });
  });
}
