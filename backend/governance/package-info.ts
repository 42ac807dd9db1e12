/**
 * Facts about the installed packages: where Orchestra's own package root is (the default rule
 * pack lives there) and which engine versions are installed (they are part of the config hash,
 * because upgrading a parser can change findings for the same input).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
let root: string | undefined;

/**
 * The directory of the nearest package.json named "orchestra" above this file. Walking up works
 * the same for sources (backend/governance) and compiled code (dist/backend/governance).
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
        if (name === 'orchestra') return (root = dir);
      } catch {
        // A broken package.json on the way up is not ours; keep walking.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('governance: cannot find the orchestra package root (package.json with "name": "orchestra")');
    dir = parent;
  }
}

let version: string | undefined;

export function orchestraVersion(): string {
  version ??= packageVersion(path.join(packageRoot(), 'package.json')) ?? '0.0.0';
  return version;
}

/** Version of an installed package, or undefined when it is not installed. */
export function installedVersion(name: string): string | undefined {
  try {
    return packageVersion(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

function packageVersion(manifest: string): string | undefined {
  try {
    const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

/** The engine packages whose versions feed the config hash. */
export const ENGINE_PACKAGES = [
  '@ast-grep/napi',
  '@ast-grep/lang-python',
  '@ast-grep/lang-go',
  'eslint',
  'typescript-eslint',
  '@typescript-eslint/parser',
  'typescript',
  '@secretlint/core',
  '@secretlint/secretlint-rule-preset-recommend',
] as const;

export function engineVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ENGINE_PACKAGES) out[name] = installedVersion(name) ?? 'missing';
  return out;
}
