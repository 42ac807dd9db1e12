/**
 * `orchestra hooks install|uninstall`: a git pre-commit hook that validates the staged files.
 * The hook goes where git will run it (core.hooksPath when set, else the repository's hooks
 * folder, which `git rev-parse --git-path hooks` resolves for worktrees too). A hook someone else
 * wrote is never replaced silently: that needs --force, and the old one is kept as a backup.
 */
import { existsSync } from 'node:fs';
import { chmod, readFile, rename, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../paths.js';
import { git, repoRoot } from './git.js';

export const HOOK_MARKER = 'orchestra-governance pre-commit hook';

/** The orchestra the hook runs: this node binary and this checkout's bin/orchestra.js, by absolute path. */
export interface HookCommand {
  node: string;
  script: string;
}

export const installingCommand = (): HookCommand => ({ node: process.execPath, script: path.join(packageRoot, 'bin', 'orchestra.js') });

const shellQuote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * The hook calls the orchestra that installed it by absolute path: the repository it guards need
 * not have Orchestra in its node_modules (where `npx orchestra` fails with a cryptic npm error on
 * every commit). When that orchestra has moved or been removed, the hook says so in one line and
 * lets the commit through: a tool that is gone should not hold every commit hostage.
 */
export function hookScript(command: HookCommand = installingCommand()): string {
  return `#!/bin/sh
# ${HOOK_MARKER}: installed by \`orchestra hooks install\`, removed by \`orchestra hooks uninstall\`.
# Validates the staged version of each file; a failing verdict blocks the commit.
node=${shellQuote(command.node)}
orchestra=${shellQuote(command.script)}
if [ ! -x "$node" ] || [ ! -f "$orchestra" ]; then
  echo "orchestra pre-commit hook: skipped, $orchestra (run by $node) is gone; run \\"orchestra hooks install\\" from your Orchestra checkout to reinstall it" >&2
  exit 0
fi
exec "$node" "$orchestra" validate --staged
`;
}

export async function hooksDirectory(cwd: string): Promise<string> {
  const root = await repoRoot(cwd);
  let configured = '';
  try {
    configured = (await git(['config', '--get', 'core.hooksPath'], root)).trim();
  } catch {
    // `git config --get` exits 1 when the key is unset.
  }
  if (configured) {
    const expanded = configured.startsWith('~/') ? path.join(os.homedir(), configured.slice(2)) : configured;
    return path.resolve(root, expanded);
  }
  return path.resolve(root, (await git(['rev-parse', '--git-path', 'hooks'], root)).trim());
}

export type InstallResult = { status: 'installed' | 'updated'; file: string; backup?: string } | { status: 'foreign'; file: string };

export async function installHook(cwd: string, force: boolean, command: HookCommand = installingCommand()): Promise<InstallResult> {
  const dir = await hooksDirectory(cwd);
  const file = path.join(dir, 'pre-commit');
  await mkdir(dir, { recursive: true });
  let backup: string | undefined;
  if (existsSync(file)) {
    const current = await readFile(file, 'utf8');
    if (!current.includes(HOOK_MARKER)) {
      if (!force) return { status: 'foreign', file };
      backup = `${file}.orchestra-backup`;
      await rename(file, backup);
    }
  }
  const existed = existsSync(file);
  await writeFile(file, hookScript(command), { mode: 0o755 });
  await chmod(file, 0o755); // mode on writeFile is filtered by the umask
  return { status: existed ? 'updated' : 'installed', file, ...(backup ? { backup } : {}) };
}

export async function uninstallHook(cwd: string): Promise<{ status: 'removed' | 'absent' | 'foreign'; file: string; restored?: string }> {
  const file = path.join(await hooksDirectory(cwd), 'pre-commit');
  if (!existsSync(file)) return { status: 'absent', file };
  if (!(await readFile(file, 'utf8')).includes(HOOK_MARKER)) return { status: 'foreign', file };
  await rm(file);
  const backup = `${file}.orchestra-backup`;
  if (existsSync(backup)) {
    await rename(backup, file);
    return { status: 'removed', file, restored: file };
  }
  return { status: 'removed', file };
}
