// Stages the desktop app for electron-builder: a directory that holds exactly what the package
// ships, laid out like the repository (package.json, dist/…, resources/governance, node_modules).
//
// Why a staged directory instead of packing the repository: electron-builder would copy every
// production dependency whole (typescript, eslint, their docs, sources and tests: ~100 MB). Here
// the JavaScript is bundled with esbuild into three files, and node_modules keeps only packages
// that cannot be bundled, trimmed to the files that run:
//   - native addons (better-sqlite3, ast-grep and its tree-sitter parsers for this platform);
//   - packages the backend loads through createRequire at run time (ioredis, undici, yaml, the
//     Socket.IO Redis adapter) and secretlint, whose profiler the secrets engine patches by
//     resolving it next to @secretlint/core;
//   - for bundled engines, only package.json: governance hashes engine versions into its cache key.
//
// Usage: node tools/desktop/stage.mjs [outDir]   (default build/desktop-app; needs `npm run build`)
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = path.join(root, 'dist');

/** Packages the bundles leave as `require('name')`; they are copied into the staged node_modules. */
export const SHIPPED = [
  'better-sqlite3',
  '@ast-grep/napi',
  '@ast-grep/lang-go',
  '@ast-grep/lang-python',
  'ioredis',
  'undici',
  'yaml',
  '@socket.io/redis-adapter',
  '@secretlint/core',
  '@secretlint/secretlint-rule-preset-recommend',
  // The governance pool: piscina starts its workers from a script of its own package.
  'piscina',
];

/**
 * The lint engine's packages, each bundled on its own into a package of one file, loaded the first
 * time governance needs it (as the unbundled server does). Inside the main bundle they would be
 * compiled at every start: TypeScript alone is 9 MB of JavaScript, seconds of compile time.
 */
const ENGINE_BUNDLES = [
  { name: 'eslint', externals: [] },
  // typescript-eslint carries TypeScript; ESLint is the package above.
  { name: 'typescript-eslint', externals: ['eslint'] },
];

/** Packages bundled into the engines above whose package.json alone is shipped (for governance's engine-version hash). */
const VERSION_ONLY = ['@typescript-eslint/parser', 'typescript'];

/** Dependencies needed only to install a package, never at run time. */
const INSTALL_ONLY = new Set(['prebuild-install', 'node-gyp-build-optional-packages', 'tree-sitter-cli']);

/** Per package: the files that run (paths relative to the package); other packages use the generic filter. */
const KEEP_ONLY = {
  'better-sqlite3': ['package.json', 'LICENSE', 'lib', 'build/Release/better_sqlite3.node'],
  // The grammar sources (src/) are only for building a parser; the prebuilt one is kept below.
  '@ast-grep/lang-go': ['package.json', 'LICENSE', 'index.js', 'prebuilds'],
  '@ast-grep/lang-python': ['package.json', 'LICENSE', 'index.js', 'prebuilds'],
};

const PREBUILD_PLATFORM = { linux: 'Linux', darwin: 'macOS', win32: 'Windows' };
const PREBUILD_ARCH = { x64: 'X64', arm64: 'ARM64' };

/** Files and folders no package needs at run time. */
function isRuntimeFile(rel, name, isDir) {
  // Only top-level folders: deeper ones with these names can be code (yaml has dist/doc/).
  if (isDir) return rel.includes('/') || !/^(test|tests|__tests__|docs|examples?|benchmarks?|\.github|man|coverage)$/i.test(name);
  if (/\.(md|markdown|map|ts|mts|cts|tsbuildinfo|gyp|gypi|c|cc|cpp|h|hpp|o|a|tlog|obj|pdb)$/i.test(name) && !/\.node$/.test(name)) return false;
  if (/^(changelog|history|readme|authors|contributing|security|code_of_conduct)(\..*)?$/i.test(name)) return false;
  if (/^(\.npmignore|\.eslintrc.*|\.prettierrc.*|\.editorconfig|tsconfig.*\.json|\.travis\.yml|Makefile)$/i.test(name)) return false;
  return true;
}

function copyFiltered(from, to, rel = '') {
  const stat = statSync(from);
  if (stat.isDirectory()) {
    for (const name of readdirSync(from)) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const child = path.join(from, name);
      const isDir = statSync(child).isDirectory();
      if (name === 'node_modules') continue; // nested dependencies are resolved and copied on their own
      if (!isRuntimeFile(childRel, name, isDir)) continue;
      copyFiltered(child, path.join(to, name), childRel);
    }
    return;
  }
  mkdirSync(path.dirname(to), { recursive: true });
  cpSync(from, to);
}

/** The directory of `name` as Node resolves it from `fromDir` (walking up node_modules folders). */
function packageDir(name, fromDir) {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** Copies `name` (resolved from `fromDir`) and its run-time dependencies, each once. */
function shipPackage(name, fromDir, outModules, seen, platform, arch) {
  const dir = packageDir(name, fromDir);
  if (dir === undefined) return false;
  if (seen.has(dir)) return true;
  seen.add(dir);
  const rel = path.relative(root, dir);
  const target = path.join(path.dirname(outModules), rel);
  const keep = KEEP_ONLY[name];
  if (keep) {
    for (const item of keep) if (existsSync(path.join(dir, item))) copyFiltered(path.join(dir, item), path.join(target, item), item);
  } else {
    copyFiltered(dir, target);
  }
  // ast-grep's language packages carry a prebuilt parser for every platform: keep this one's.
  const prebuilds = path.join(target, 'prebuilds');
  if (existsSync(prebuilds)) {
    const wanted = `prebuild-${PREBUILD_PLATFORM[platform]}-${PREBUILD_ARCH[arch]}`;
    for (const entry of readdirSync(prebuilds)) if (entry !== wanted) rmSync(path.join(prebuilds, entry), { recursive: true, force: true });
  }
  const pkg = readJson(path.join(dir, 'package.json'));
  const deps = { ...pkg.dependencies, ...pkg.optionalDependencies };
  if (Object.keys(deps).some((dep) => INSTALL_ONLY.has(dep))) {
    // electron-builder lists dependencies from package.json; install-time ones are not shipped.
    const trimmed = { ...pkg, dependencies: Object.fromEntries(Object.entries(pkg.dependencies ?? {}).filter(([dep]) => !INSTALL_ONLY.has(dep))) };
    writeFileSync(path.join(target, 'package.json'), `${JSON.stringify(trimmed, null, 2)}\n`);
  }
  for (const dep of Object.keys(deps)) {
    if (INSTALL_ONLY.has(dep)) continue;
    // Optional dependencies for other platforms (e.g. @ast-grep/napi-darwin-arm64) are not installed.
    const found = shipPackage(dep, dir, outModules, seen, platform, arch);
    if (!found && !(pkg.optionalDependencies && dep in pkg.optionalDependencies)) {
      throw new Error(`${name} depends on ${dep}, which is not installed`);
    }
  }
  return true;
}

/** Node built-ins, electron, and SHIPPED stay `require()`s; everything else is bundled. */
const externals = (extra) => ({
  name: 'desktop-externals',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const p = args.path;
      const pkgName = p.startsWith('@') ? p.split('/').slice(0, 2).join('/') : p.split('/')[0];
      if (p.startsWith('node:') || pkgName === 'electron' || SHIPPED.includes(pkgName) || extra.includes(pkgName)) {
        return { path: p, external: true };
      }
      return undefined;
    });
  },
});

/** The bundled backend entry imports the server through the bundled CLI, so it is shipped once. */
const throughCli = {
  name: 'backend-through-cli',
  setup(b) {
    b.onResolve({ filter: /\/backend\/(server|config\/load)\.js$/ }, () => ({ path: '../backend/orchestra.cjs', external: true }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Modules that locate files relative to themselves see the bundle's own file.
  define: { 'import.meta.url': '__orchestraBundleUrl' },
  banner: { js: "'use strict';\nvar __orchestraBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
};

export async function stage(outDir = path.join(root, 'build', 'desktop-app'), { platform = process.platform, arch = process.arch } = {}) {
  for (const required of ['main/index.js', 'main/backend-entry.js', 'preload/index.cjs', 'backend/cli/main.js', 'backend/governance/worker.js', 'renderer/index.html']) {
    if (!existsSync(path.join(dist, required))) throw new Error(`dist/${required} is missing: run "npm run build" first`);
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const out = (...parts) => path.join(outDir, ...parts);

  // The CLI bundle also exports what the desktop backend entry needs, so the server is in one file.
  const cliEntry = [
    `export { main } from ${JSON.stringify(path.join(dist, 'backend/cli/main.js'))};`,
    `export { startServer } from ${JSON.stringify(path.join(dist, 'backend/server.js'))};`,
    `export { loadConfig } from ${JSON.stringify(path.join(dist, 'backend/config/load.js'))};`,
  ].join('\n');
  const results = await Promise.all([
    build({
      ...common,
      stdin: { contents: cliEntry, resolveDir: root, sourcefile: 'desktop-cli.js', loader: 'js' },
      outfile: out('dist/backend/orchestra.cjs'),
      // pg-native is pg's optional alternative client, never installed; TypeScript tries
      // source-map-support (a development tool) inside a try block.
      plugins: [externals(['pg-native', 'source-map-support', ...ENGINE_BUNDLES.map((e) => e.name)])],
    }),
    ...ENGINE_BUNDLES.map((engine) =>
      build({
        ...common,
        entryPoints: [path.join(packageDir(engine.name, root), readJson(path.join(packageDir(engine.name, root), 'package.json')).exports['.'].default)],
        outfile: out('node_modules', engine.name, 'index.js'),
        plugins: [externals(['source-map-support', ...engine.externals])],
      }),
    ),
    // The governance worker script, beside the CLI bundle where the pool looks for it.
    build({
      ...common,
      entryPoints: [path.join(dist, 'backend/governance/worker.js')],
      outfile: out('dist/backend/governance-worker.cjs'),
      plugins: [externals(['source-map-support', ...ENGINE_BUNDLES.map((e) => e.name)])],
    }),
    build({ ...common, entryPoints: [path.join(dist, 'main/backend-entry.js')], outfile: out('dist/main/backend-entry.js'), plugins: [throughCli, externals([])] }),
    build({ ...common, entryPoints: [path.join(dist, 'main/index.js')], outfile: out('dist/main/index.js'), plugins: [externals([])] }),
  ]);
  for (const result of results) for (const warning of result.warnings) process.stderr.write(`esbuild: ${warning.text}\n`);
  assertProductionOnly(results);

  cpSync(path.join(dist, 'preload/index.cjs'), out('dist/preload/index.cjs'));
  cpSync(path.join(dist, 'renderer'), out('dist/renderer'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  cpSync(path.join(root, 'resources/governance'), out('resources/governance'), { recursive: true });

  const rootPkg = readJson(path.join(root, 'package.json'));
  const seen = new Set();
  const modules = out('node_modules');
  for (const name of SHIPPED) {
    if (!shipPackage(name, root, modules, seen, platform, arch)) throw new Error(`${name} is not installed`);
  }
  for (const engine of ENGINE_BUNDLES) {
    const { name, version, license } = readJson(path.join(packageDir(engine.name, root), 'package.json'));
    writeFileSync(out('node_modules', engine.name, 'package.json'), `${JSON.stringify({ name, version, license, main: 'index.js' }, null, 2)}\n`);
  }
  for (const name of VERSION_ONLY) {
    const dir = packageDir(name, root);
    if (dir === undefined) continue;
    const { name: n, version, license } = readJson(path.join(dir, 'package.json'));
    mkdirSync(out('node_modules', name), { recursive: true });
    writeFileSync(out('node_modules', name, 'package.json'), `${JSON.stringify({ name: n, version, license, private: true })}\n`);
  }

  // electron-builder copies node_modules by walking these (and their own) dependencies.
  const dependencies = Object.fromEntries(
    [...SHIPPED, ...ENGINE_BUNDLES.map((e) => e.name), ...VERSION_ONLY]
      .filter((name) => existsSync(out('node_modules', name, 'package.json')))
      .map((name) => [name, readJson(out('node_modules', name, 'package.json')).version]),
  );
  // Not "type": "module": the bundles are CommonJS files named .js.
  const appPkg = {
    name: rootPkg.name,
    productName: 'Orchestra',
    version: rootPkg.version,
    description: rootPkg.description,
    license: rootPkg.license,
    author: rootPkg.author ?? 'Orchestra contributors',
    homepage: rootPkg.homepage,
    main: 'dist/main/index.js',
    dependencies,
  };
  writeFileSync(out('package.json'), `${JSON.stringify(appPkg, null, 2)}\n`);
  return { outDir, bytes: directoryBytes(outDir) };
}

/** Every package the production dependencies reach (what `npm install --omit=dev` would install). */
function productionClosure() {
  const names = new Set();
  const visit = (name, fromDir) => {
    const dir = packageDir(name, fromDir);
    if (dir === undefined || names.has(`${name}@${dir}`)) return;
    names.add(`${name}@${dir}`);
    names.add(name);
    const pkg = readJson(path.join(dir, 'package.json'));
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.peerDependencies })) visit(dep, dir);
  };
  for (const dep of Object.keys(readJson(path.join(root, 'package.json')).dependencies)) visit(dep, root);
  return names;
}

/** A development dependency that slipped into a bundle (an import from main/ of a test helper, say) stops the build. */
function assertProductionOnly(results) {
  const allowed = productionClosure();
  const offenders = new Set();
  for (const result of results) {
    for (const input of Object.keys(result.metafile.inputs)) {
      const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*\/node_modules\/)/.exec(input);
      if (match && !allowed.has(match[1])) offenders.add(match[1]);
    }
  }
  if (offenders.size > 0) throw new Error(`the desktop bundles include development dependencies: ${[...offenders].sort().join(', ')}`);
}

export function directoryBytes(dir) {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const s = statSync(p);
    total += s.isDirectory() ? directoryBytes(p) : s.size;
  }
  return total;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { outDir, bytes } = await stage(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  process.stdout.write(`staged the desktop app in ${path.relative(root, outDir)} (${(bytes / 1024 / 1024).toFixed(1)} MiB)\n`);
}
