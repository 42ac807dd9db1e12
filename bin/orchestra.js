#!/usr/bin/env node
// The `orchestra` command. It runs the CLI bundled into dist/backend/orchestra.cjs by
// `npm run build` (tools/bundle-cli.mjs explains why it is one file).
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import vm from 'node:vm';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const entry = path.join(root, 'dist', 'backend', 'orchestra.cjs');
const cacheDir = process.env.ORCHESTRA_CODE_CACHE_DIR ?? path.join(root, 'node_modules', '.cache', 'orchestra');
if (!existsSync(entry)) {
  process.stderr.write('orchestra: the server is not built yet; run "npm run build" (or "npm start") first\n');
  process.exit(2);
}

/**
 * Loads the bundle as Node's own loader would (the CommonJS wrapper, a require relative to it),
 * with V8's code cache: parsing and compiling the 3 MB bundle is most of the CPU a start spends
 * before it listens, and the cache lets the next start skip it. The cache is keyed by the
 * bundle's size and time and by the Node version; a stale or unwritable cache only costs speed.
 * It lives in node_modules/.cache, where build tools keep theirs, outside dist/ and the packages.
 */
function loadBundle(file) {
  const source = readFileSync(file, 'utf8');
  const stat = statSync(file);
  const cacheFile = path.join(cacheDir, `orchestra-${process.version}-${process.arch}-${stat.size}-${Math.floor(stat.mtimeMs)}.v8`);
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, ...(cachedData !== undefined ? { cachedData } : {}) });
  const mod = new Module(file);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext()(mod.exports, createRequire(file), mod, file, path.dirname(file));
  mod.loaded = true;
  let saved = cachedData !== undefined && script.cachedDataRejected !== true;
  const save = () => {
    if (saved) return;
    saved = true;
    try {
      mkdirSync(path.dirname(cacheFile), { recursive: true });
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
    } catch {
      // A read-only install: start without the cache.
    }
  };
  return { exports: mod.exports, save };
}

const bundle = loadBundle(entry);
const { main } = bundle.exports;
// Written once the command has run a while, so functions compiled on the way to ready are in it.
setTimeout(bundle.save, 1500).unref();
const code = await main(process.argv.slice(2));
bundle.save();
process.exitCode = code;
// Anything still holding the event loop after a command finished is a bug; do not hang the shell.
setTimeout(() => process.exit(code), 2000).unref();
