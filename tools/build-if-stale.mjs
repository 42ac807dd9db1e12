// Builds the server and the renderer only when their sources changed since the last build, so
// `npm start` on a built tree starts at once. Each target's inputs (its source files and the
// configuration that shapes the build) are hashed by content; the hash of the last successful
// build is kept in dist/.build-stamps.json. A fresh clone has no stamps, so it builds everything.
//
//   node tools/build-if-stale.mjs            build what is stale
//   node tools/build-if-stale.mjs --check    print what is stale, build nothing (exit 1 if any)
//   node tools/build-if-stale.mjs --force    build everything (npm run build)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** What each build reads and produces. Paths are relative to the package root. */
export const TARGETS = [
  {
    name: 'server',
    inputs: ['backend', 'main', 'preload', 'resources', 'tsconfig.base.json', 'tsconfig.build.json', 'tools/bundle-cli.mjs', 'package-lock.json'],
    outputs: ['dist/backend/orchestra.cjs', 'dist/backend/cli/main.js'],
    script: 'build:server',
  },
  {
    name: 'renderer',
    inputs: ['renderer', 'tsconfig.base.json', 'package-lock.json'],
    outputs: ['dist/renderer/index.html'],
    script: 'build:renderer',
  },
];

const SKIP = new Set(['node_modules', '.git', 'dist']);

/** Every file under the inputs, sorted, so the same tree always gives the same list. */
export function inputFiles(base, inputs) {
  const out = [];
  const walk = (rel) => {
    const full = path.join(base, rel);
    let entries;
    try {
      entries = readdirSync(full, { withFileTypes: true });
    } catch (err) {
      if (err.code === 'ENOTDIR') out.push(rel);
      else if (err.code !== 'ENOENT') throw err;
      return;
    }
    for (const e of entries) {
      if (SKIP.has(e.name)) continue;
      const child = path.join(rel, e.name);
      if (e.isDirectory()) walk(child);
      else if (e.isFile()) out.push(child);
    }
  };
  for (const input of inputs) walk(input);
  return out.sort();
}

/** A hash of the inputs' names and contents: touching a file without changing it changes nothing. */
export function fingerprint(base, inputs) {
  const hash = createHash('sha256');
  for (const rel of inputFiles(base, inputs)) {
    hash.update(rel.split(path.sep).join('/'));
    hash.update('\0');
    hash.update(readFileSync(path.join(base, rel)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

export function readStamps(base) {
  try {
    return JSON.parse(readFileSync(path.join(base, 'dist', '.build-stamps.json'), 'utf8'));
  } catch {
    return {};
  }
}

export function writeStamp(base, name, value) {
  const stamps = readStamps(base);
  stamps[name] = value;
  mkdirSync(path.join(base, 'dist'), { recursive: true });
  writeFileSync(path.join(base, 'dist', '.build-stamps.json'), `${JSON.stringify(stamps, null, 2)}\n`);
}

/** Why a target must be built, or undefined when its last build is current. */
export function staleness(base, target, stamps = readStamps(base)) {
  const missing = target.outputs.find((o) => !existsSync(path.join(base, o)));
  if (missing !== undefined) return { reason: `${missing} is missing`, fingerprint: fingerprint(base, target.inputs) };
  const now = fingerprint(base, target.inputs);
  if (stamps[target.name] !== now) return { reason: stamps[target.name] === undefined ? 'never built here' : 'sources changed', fingerprint: now };
  return undefined;
}

export function main(argv) {
  const check = argv.includes('--check');
  const force = argv.includes('--force');
  const only = argv.filter((a) => !a.startsWith('--'));
  let stale = 0;
  for (const target of TARGETS) {
    if (only.length > 0 && !only.includes(target.name)) continue;
    const why = force ? { reason: 'forced', fingerprint: fingerprint(root, target.inputs) } : staleness(root, target);
    if (why === undefined) continue;
    stale++;
    process.stderr.write(`build: ${target.name} (${why.reason})\n`);
    if (check) continue;
    const npm = process.env.npm_execpath;
    const run = npm !== undefined ? spawnSync(process.execPath, [npm, 'run', '-s', target.script], { cwd: root, stdio: 'inherit' }) : spawnSync('npm', ['run', '-s', target.script], { cwd: root, stdio: 'inherit' });
    if (run.status !== 0) {
      process.stderr.write(`build: ${target.name} failed\n`);
      return run.status ?? 1;
    }
    // The sources as they were when the build read them: a file saved during the build makes the
    // next start build again.
    writeStamp(root, target.name, why.fingerprint);
  }
  return check && stale > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
