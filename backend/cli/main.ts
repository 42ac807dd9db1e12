import { packageVersion } from '../paths.js';
import type { CliIo } from './io.js';
import { processIo } from './io.js';

const HELP = `orchestra ${packageVersion}

Usage: orchestra <command> [options]

Commands:
  serve              start the backend (what npm start runs)
  validate [paths]   check code against the governance rules (--staged, --format text|json|sarif)
  hooks install      install the git pre-commit hook that runs validate --staged
  breaker            watch every circuit breaker of a running server
  pair               print a fresh one-time pairing link for the running server
  help               show this help

Run "orchestra <command> --help" for a command's options.`;

type Command = (argv: string[], io: CliIo) => Promise<number>;

/**
 * Commands are imported when used: `serve` never loads the governance engines up front, and
 * `validate` (a pre-commit hook, run often) never loads the HTTP server.
 */
const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).runServe,
  validate: async () => (await import('../governance/cli.js')).runValidateCli,
  hooks: async () => (await import('../governance/cli.js')).runHooksCli,
  breaker: () => import('./breaker.js').then((m) => m.runBreakerCli),
  pair: () => import('./pair.js').then((m) => m.runPairCli),
};

export function registerCommand(name: string, load: () => Promise<Command>): void {
  commands[name] = load;
}

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`${packageVersion}\n`);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    io.stderr.write(`orchestra: unknown command "${name}"\n\n${HELP}\n`);
    return 2;
  }
  const command = await load();
  return command(rest, io);
}
