/**
 * Finds and reads the manifest an import is checked against: the nearest package.json (JS/TS),
 * requirements*.txt / pyproject.toml (Python) or go.mod (Go), walking up from the file but never
 * above the validation cwd. A locator lives for one validate() call, so each directory is read
 * at most once per call and a changed manifest is seen on the next call.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LanguageId } from '../languages.js';

interface ManifestBase {
  /** Manifest path relative to the cwd, for messages. */
  file: string;
  /** Changes whenever anything this manifest contributes to a verdict changes. */
  digest: string;
  /** First-party names: entries next to the manifest (and in src/ or the file's folder for Python). */
  localNames: ReadonlySet<string>;
}

export interface NpmManifest extends ManifestBase {
  kind: 'npm';
  name: string | undefined;
  packages: ReadonlySet<string>;
}

export interface PythonManifest extends ManifestBase {
  kind: 'python';
  name: string | undefined;
  /** Normalized distribution names (PEP 503). */
  packages: ReadonlySet<string>;
}

export interface GoManifest extends ManifestBase {
  kind: 'go';
  module: string;
  requires: readonly string[];
}

export type Manifest = NpmManifest | PythonManifest | GoManifest;

type Kind = Manifest['kind'];

export function manifestKindFor(language: LanguageId): Kind | undefined {
  if (language === 'javascript' || language === 'typescript' || language === 'tsx') return 'npm';
  if (language === 'python') return 'python';
  if (language === 'go') return 'go';
  return undefined;
}

export class ManifestLocator {
  private readonly found = new Map<string, Promise<Manifest | undefined>>();

  constructor(private readonly cwd: string) {}

  /** The manifest for a file at `filePath` (relative to the cwd or absolute), if any. */
  async forFile(filePath: string, kind: Kind): Promise<Manifest | undefined> {
    const absolute = path.resolve(this.cwd, filePath);
    const relative = path.relative(this.cwd, absolute);
    // Files outside the cwd (or virtual paths that resolve there) have no project to check against.
    if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
    let dir = path.dirname(absolute);
    for (;;) {
      const manifest = await this.at(dir, kind, path.dirname(absolute));
      if (manifest) return manifest;
      if (dir === this.cwd || path.dirname(dir) === dir) return undefined;
      dir = path.dirname(dir);
    }
  }

  private at(dir: string, kind: Kind, fileDir: string): Promise<Manifest | undefined> {
    // Python manifests also list the file's own folder (sibling modules), so key by it too.
    const key = `${kind}\0${dir}${kind === 'python' ? `\0${fileDir}` : ''}`;
    let pending = this.found.get(key);
    if (!pending) {
      pending = this.read(dir, kind, fileDir);
      this.found.set(key, pending);
    }
    return pending;
  }

  private async read(dir: string, kind: Kind, fileDir: string): Promise<Manifest | undefined> {
    const entries = await listDir(dir);
    if (kind === 'npm') {
      if (!entries.includes('package.json')) return undefined;
      return parsePackageJson(await readText(path.join(dir, 'package.json')), this.display(dir, 'package.json'), entries);
    }
    if (kind === 'go') {
      if (!entries.includes('go.mod')) return undefined;
      return parseGoMod(await readText(path.join(dir, 'go.mod')), this.display(dir, 'go.mod'), entries);
    }
    const requirements = entries.filter((e) => /^requirements.*\.txt$/i.test(e)).sort();
    const hasPyproject = entries.includes('pyproject.toml');
    if (requirements.length === 0 && !hasPyproject) return undefined;
    const sources: Array<{ name: string; text: string }> = [];
    for (const name of requirements) sources.push({ name, text: await readText(path.join(dir, name)) });
    if (hasPyproject) sources.push({ name: 'pyproject.toml', text: await readText(path.join(dir, 'pyproject.toml')) });
    const local = new Set([...entries, ...(await listDir(path.join(dir, 'src'))), ...(fileDir === dir ? [] : await listDir(fileDir))]);
    const shown = this.display(dir, hasPyproject && requirements.length === 0 ? 'pyproject.toml' : (requirements[0] ?? 'pyproject.toml'));
    return parsePython(sources, shown, local);
  }

  private display(dir: string, name: string): string {
    return path.relative(this.cwd, path.join(dir, name)).split(path.sep).join('/');
  }
}

function parsePackageJson(text: string, file: string, entries: string[]): NpmManifest | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // An unreadable manifest cannot vouch for or against an import.
    return undefined;
  }
  const json = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  const packages = new Set<string>();
  for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
    const deps = json[field];
    if (typeof deps === 'object' && deps !== null) for (const name of Object.keys(deps)) packages.add(name);
  }
  const name = typeof json.name === 'string' ? json.name : undefined;
  return { kind: 'npm', file, name, packages, localNames: localNames(entries), digest: digest('npm', text, entries) };
}

function parseGoMod(text: string, file: string, entries: string[]): GoManifest | undefined {
  const module = /^\s*module\s+(\S+)/m.exec(text)?.[1];
  if (!module) return undefined;
  const requires: string[] = [];
  // `require x v1` and `require ( x v1 \n y v2 )`; replace directives point at modules too.
  for (const block of text.matchAll(/^\s*(?:require|replace)\s*\(([\s\S]*?)\)/gm)) {
    for (const line of (block[1] ?? '').split('\n')) {
      const mod = /^\s*([^\s/][^\s]*)\s/.exec(line)?.[1];
      if (mod && !mod.startsWith('//')) requires.push(mod);
    }
  }
  for (const line of text.matchAll(/^\s*(?:require|replace)\s+([^\s(]+)\s/gm)) if (line[1]) requires.push(line[1]);
  return { kind: 'go', file, module: module.replace(/^"|"$/g, ''), requires, localNames: localNames(entries), digest: digest('go', text, entries) };
}

function parsePython(sources: Array<{ name: string; text: string }>, file: string, local: Set<string>): PythonManifest {
  const packages = new Set<string>();
  let name: string | undefined;
  for (const source of sources) {
    if (source.name === 'pyproject.toml') {
      const project = readPyproject(source.text);
      name = project.name;
      for (const dep of project.dependencies) packages.add(normalizePythonName(dep));
    } else {
      for (const dep of readRequirements(source.text)) packages.add(normalizePythonName(dep));
    }
  }
  const all = sources.map((s) => `${s.name}\n${s.text}`).join('\0');
  return {
    kind: 'python',
    file,
    name: name === undefined ? undefined : normalizePythonName(name),
    packages,
    localNames: localNames([...local]),
    digest: digest('python', all, [...local]),
  };
}

/** Distribution names from requirements.txt lines (`pkg[extra]>=1; marker`, `-e …#egg=pkg`, `pkg @ url`). */
export function readRequirements(text: string): string[] {
  const names: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    if (line.startsWith('-')) {
      const egg = /#egg=([A-Za-z0-9._-]+)/.exec(raw)?.[1];
      if (egg) names.push(egg);
      continue;
    }
    const name = /^([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(line)?.[1];
    if (name) names.push(name);
  }
  return names;
}

/**
 * The parts of pyproject.toml that declare dependencies: PEP 621 `[project]` dependencies and
 * optional-dependencies, PEP 735 `[dependency-groups]`, and Poetry's dependency tables. This is
 * a targeted reader, not a TOML parser: it understands tables, string arrays and table keys.
 */
export function readPyproject(text: string): { name: string | undefined; dependencies: string[] } {
  const dependencies: string[] = [];
  let name: string | undefined;
  let table = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\s+#.*$/, '').trim();
    const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (header) {
      table = (header[1] ?? '').trim();
      continue;
    }
    const assignment = /^([A-Za-z0-9_."-]+)\s*=\s*(.*)$/.exec(line);
    if (!assignment) continue;
    const key = (assignment[1] ?? '').replace(/"/g, '');
    let value = assignment[2] ?? '';
    if (table === 'project' && key === 'name') name = /^["']([^"']+)["']/.exec(value)?.[1];
    const isArrayTable =
      (table === 'project' && key === 'dependencies') || table === 'project.optional-dependencies' || table === 'dependency-groups';
    if (isArrayTable && value.startsWith('[')) {
      // Arrays may span lines; collect until the brackets balance.
      while (!balanced(value) && i + 1 < lines.length) value += `\n${lines[++i] ?? ''}`;
      for (const spec of value.matchAll(/"([^"]+)"|'([^']+)'/g)) {
        const dep = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(spec[1] ?? spec[2] ?? '')?.[1];
        if (dep) dependencies.push(dep);
      }
    } else if (/^tool\.poetry\.(?:(?:dev-)?dependencies|group\.[^.]+\.dependencies)$/.test(table) && key !== 'python') {
      dependencies.push(key);
    }
  }
  return { name, dependencies };
}

function balanced(text: string): boolean {
  let depth = 0;
  for (const ch of text.replace(/"[^"]*"|'[^']*'/g, '')) {
    if (ch === '[') depth++;
    else if (ch === ']') depth--;
  }
  return depth <= 0;
}

/** PEP 503: case-insensitive, runs of `-`, `_` and `.` are the same. */
export function normalizePythonName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

function localNames(entries: string[]): Set<string> {
  return new Set(entries.map((e) => e.replace(/\.(py|pyi|js|mjs|cjs|ts|mts|cts|tsx|jsx|go)$/, '')));
}

function digest(kind: string, text: string, entries: string[]): string {
  return createHash('sha256').update(kind).update('\0').update(text).update('\0').update([...entries].sort().join('\n')).digest('hex');
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return '';
  }
}
