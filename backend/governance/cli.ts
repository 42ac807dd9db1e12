/**
 * CLI subcommands:
 *
 *   orchestra validate [paths…] [--staged] [--format text|json|sarif] [--config FILE]
 *   orchestra hooks install [--force] | orchestra hooks uninstall
 *
 * `validate` exits 0 when the verdict passes, 1 when it fails, 2 on usage or config errors (the
 * message goes to stderr). Both functions take the arguments after the subcommand (a leading
 * subcommand name is tolerated) and an io object, so tests run them in-process.
 */
import { readFile } from 'node:fs/promises';
import module from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GovernanceConfigError } from './errors.js';
import { collectFiles, decodeSource, MissingPathError } from './files.js';
import { formatText } from './format-text.js';
import { GitError, repoRoot, stagedBlobs, stagedPaths } from './git.js';
import { installHook, uninstallHook } from './hooks.js';
import { isSupportedPath } from './languages.js';
import { createGovernancePool } from './pool.js';
import type { SourceFile } from './types.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

const VALIDATE_USAGE = `Usage: orchestra validate [paths…] [--staged] [--format text|json|sarif] [--config FILE]

Validates files (directories are walked) against the governance rules.
  --staged         validate the staged version of staged files (what the commit will contain)
  --format, -f     text (default), json or sarif
  --config, -c     rules file (default: $GOVERNANCE_CONFIG, ./governance/config.yaml, built-in pack)
Exit status: 0 pass, 1 fail, 2 usage or configuration error, or a validation that ran out of time
(GOVERNANCE_TIMEOUT_MS, off unless set).
`;

const HOOKS_USAGE = `Usage: orchestra hooks install [--force]
       orchestra hooks uninstall

Installs a git pre-commit hook that runs \`orchestra validate --staged\`.
  --force          replace an existing pre-commit hook that orchestra did not write (kept as pre-commit.orchestra-backup)
`;

const FORMATS = ['text', 'json', 'sarif'] as const;
type Format = (typeof FORMATS)[number];

export async function runValidateCli(argv: string[], io: CliIo): Promise<number> {
  enableCompileCache();
  const args = argv[0] === 'validate' ? argv.slice(1) : argv;
  let values: { staged?: boolean; format?: string; config?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        staged: { type: 'boolean' },
        format: { type: 'string', short: 'f' },
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return usageError(io, (err as Error).message, VALIDATE_USAGE);
  }
  if (values.help) {
    io.stdout.write(VALIDATE_USAGE);
    return 0;
  }
  const format = (values.format ?? 'text') as Format;
  if (!FORMATS.includes(format)) return usageError(io, `--format must be one of ${FORMATS.join('|')}, got "${values.format}"`, VALIDATE_USAGE);

  try {
    const { base, files, skipped } = values.staged ? await stagedSources(io.cwd, positionals) : await workingTreeSources(io.cwd, positionals);
    for (const note of skipped) io.stderr.write(`orchestra validate: skipped ${note}\n`);
    const configPath = values.config ?? (io.env.GOVERNANCE_CONFIG || undefined);
    const timeoutMs = cliTimeout(io.env.GOVERNANCE_TIMEOUT_MS);
    if (timeoutMs === undefined) return usageError(io, `GOVERNANCE_TIMEOUT_MS must be a whole number of milliseconds, got "${io.env.GOVERNANCE_TIMEOUT_MS}"`, VALIDATE_USAGE);
    // The same worker pool as the server, with one thread: a commit's files are validated in one
    // task, and a second thread would only add its start-up to the run.
    const gov = await createGovernancePool({ cwd: base, lazy: true, threads: 1, timeoutMs, ...(configPath ? { configPath: path.resolve(io.cwd, configPath) } : {}) });
    try {
      const report = await gov.validate(files);
      if (format === 'text') io.stdout.write(formatText(report));
      else if (format === 'json') io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else io.stdout.write(`${JSON.stringify(gov.toSarif(report), null, 2)}\n`);
      return report.verdict === 'pass' ? 0 : report.verdict === 'fail' ? 1 : 2;
    } finally {
      await gov.close();
    }
  } catch (err) {
    if (err instanceof GovernanceConfigError || err instanceof GitError || err instanceof MissingPathError) {
      io.stderr.write(`orchestra validate: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

/**
 * The CLI's time limit: GOVERNANCE_TIMEOUT_MS when set (0 turns it off), else none — a person at a
 * terminal or a commit hook waits for the verdict; a server cannot. Undefined means unreadable.
 */
function cliTimeout(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return 0;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** Staged blobs of staged files (optionally only under `filters`), paths relative to the repo root. */
async function stagedSources(cwd: string, filters: string[]): Promise<{ base: string; files: SourceFile[]; skipped: string[] }> {
  const root = await repoRoot(cwd);
  const within = filters.map((f) => path.relative(root, path.resolve(cwd, f)).split(path.sep).join('/'));
  const paths = (await stagedPaths(root)).filter(
    (p) => isSupportedPath(p) && (within.length === 0 || within.some((w) => w === '' || p === w || p.startsWith(`${w}/`))),
  );
  const blobs = await stagedBlobs(root, paths);
  const files: SourceFile[] = [];
  const skipped: string[] = [];
  for (const p of paths) {
    const bytes = blobs.get(p);
    if (!bytes) {
      skipped.push(`${p} (not readable from the index)`);
      continue;
    }
    const source = decodeSource(bytes);
    if ('skipped' in source) skipped.push(`${p} (${source.skipped})`);
    else files.push({ path: p, content: source.content });
  }
  return { base: root, files, skipped };
}

async function workingTreeSources(cwd: string, targets: string[]): Promise<{ base: string; files: SourceFile[]; skipped: string[] }> {
  const absolute = await collectFiles(targets.length > 0 ? targets : ['.'], cwd);
  const contents = await Promise.all(absolute.map(async (file) => ({ file, source: decodeSource(await readFile(file)) })));
  const files: SourceFile[] = [];
  const skipped: string[] = [];
  for (const { file, source } of contents) {
    const shown = path.relative(cwd, file).split(path.sep).join('/') || file;
    if ('skipped' in source) skipped.push(`${shown} (${source.skipped})`);
    else files.push({ path: shown, content: source.content });
  }
  return { base: cwd, files, skipped };
}

export async function runHooksCli(argv: string[], io: CliIo): Promise<number> {
  const args = argv[0] === 'hooks' ? argv.slice(1) : argv;
  let values: { force?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    return usageError(io, (err as Error).message, HOOKS_USAGE);
  }
  if (values.help) {
    io.stdout.write(HOOKS_USAGE);
    return 0;
  }
  const [action, ...rest] = positionals;
  if ((action !== 'install' && action !== 'uninstall') || rest.length > 0) {
    return usageError(io, action ? `unknown hooks command "${[action, ...rest].join(' ')}"` : 'missing hooks command', HOOKS_USAGE);
  }
  try {
    if (action === 'install') {
      const result = await installHook(io.cwd, values.force ?? false);
      if (result.status === 'foreign') {
        io.stderr.write(`orchestra hooks: ${result.file} already exists and was not installed by orchestra; re-run with --force to replace it (a backup is kept)\n`);
        return 1;
      }
      io.stdout.write(`${result.status === 'updated' ? 'Updated' : 'Installed'} pre-commit hook at ${result.file}${result.backup ? ` (previous hook saved as ${result.backup})` : ''}\n`);
      return 0;
    }
    const result = await uninstallHook(io.cwd);
    if (result.status === 'foreign') {
      io.stderr.write(`orchestra hooks: ${result.file} was not installed by orchestra; leaving it alone\n`);
      return 1;
    }
    io.stdout.write(result.status === 'absent' ? 'No pre-commit hook installed\n' : `Removed pre-commit hook ${result.file}${result.restored ? ' (restored the previous hook)' : ''}\n`);
    return 0;
  } catch (err) {
    if (err instanceof GitError) {
      io.stderr.write(`orchestra hooks: not in a git repository (${err.message})\n`);
      return 2;
    }
    throw err;
  }
}

/**
 * A pre-commit run spends most of its start-up compiling ESLint and TypeScript. Node 22.1+ can
 * cache that compilation on disk; on older Node this does nothing.
 */
function enableCompileCache(): void {
  const nodeModule = module as { enableCompileCache?: () => unknown };
  try {
    nodeModule.enableCompileCache?.();
  } catch {
    // An unwritable cache directory only costs speed.
  }
}

function usageError(io: CliIo, message: string, usage: string): number {
  io.stderr.write(`${message}\n\n${usage}`);
  return 2;
}
