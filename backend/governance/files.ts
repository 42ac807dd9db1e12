/**
 * Collects the files the CLI validates: walks directories (skipping dependency, VCS and build
 * folders), keeps the languages governance understands, and drops binaries and huge files.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isSupportedPath } from './languages.js';

const SKIPPED_DIRS = new Set(['node_modules', '.git', '.hg', '.svn', 'dist']);
export const MAX_FILE_BYTES = 2 * 1024 * 1024;

export class MissingPathError extends Error {
  override name = 'MissingPathError';
}

/** Supported files under `targets` (files or directories), as absolute paths, sorted. */
export async function collectFiles(targets: string[], cwd: string): Promise<string[]> {
  const out = new Set<string>();
  for (const target of targets) {
    const absolute = path.resolve(cwd, target);
    let info;
    try {
      info = await stat(absolute);
    } catch {
      throw new MissingPathError(`${target}: no such file or directory`);
    }
    if (info.isDirectory()) await walk(absolute, out);
    else if (isSupportedPath(absolute)) out.add(absolute);
  }
  return [...out].sort();
}

async function walk(dir: string, out: Set<string>): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return; // unreadable folders are not ours to judge
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    // Symlinked folders are not followed: they can loop, and they point outside the tree.
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) await walk(full, out);
    } else if (entry.isFile() && isSupportedPath(entry.name)) {
      out.add(full);
    }
  }
}

/** Text content, or a reason the file is skipped. */
export function decodeSource(bytes: Buffer): { content: string } | { skipped: string } {
  if (bytes.length > MAX_FILE_BYTES) return { skipped: `larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB` };
  if (bytes.subarray(0, 8000).includes(0)) return { skipped: 'binary' };
  return { content: bytes.toString('utf8') };
}
