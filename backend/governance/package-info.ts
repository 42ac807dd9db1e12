/**
 * Which engine versions are installed: they are part of the config hash, because upgrading a
 * parser can change findings for the same input. (Orchestra's own root and version: paths.ts.)
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

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
