import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';

/**
 * Files and directories only this user may read: conversations, logs and tokens must not be
 * readable by other local users. Modes are set with chmod after creation, so the umask (which
 * commonly leaves files 0644 and directories 0755) has no say.
 */

/** Creates `dir` and its missing parents as 0700. A directory that already existed is left alone. */
export function makePrivateDir(dir: string): void {
  const target = path.resolve(dir);
  const first = mkdirSync(target, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  // Every directory from the first one created down to the target is ours.
  for (let d = target; ; d = path.dirname(d)) {
    chmodSync(d, 0o700);
    if (d === path.resolve(first) || path.dirname(d) === d) break;
  }
}

/** Makes `file` 0600, creating it empty when it does not exist. */
export function makePrivateFile(file: string): void {
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

/** Makes `file` 0600 when it exists (for files other code creates, such as SQLite's -wal and -shm). */
export function restrictIfPresent(file: string): void {
  try {
    chmodSync(file, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
