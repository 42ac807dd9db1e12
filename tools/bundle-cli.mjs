// Bundles the compiled CLI (dist/backend/cli/main.js) into one CommonJS file,
// dist/backend/orchestra.cjs, which bin/orchestra.js loads, and the governance worker
// (dist/backend/governance/worker.js) into dist/backend/governance-worker.cjs beside it: worker
// threads start from a file of their own, which the pool in the bundle finds next to itself.
//
// Why: loading the server as ~600 separate ES modules spends most of its start-up time in Node's
// module loader (resolving, stat-ing and reading files, linking the module graph), not in our
// code. One CommonJS file skips all of that; `npm run bench` (footprint) shows the difference.
//
// Only what every `orchestra serve` needs is bundled. Packages used later or on some paths only
// (PostgreSQL, Redis, the governance engines, the native SQLite addon) stay ordinary
// node_modules imports, loaded when first used, exactly as in the unbundled build.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const entry = path.join(root, 'dist', 'backend', 'cli', 'main.js');
const outfile = path.join(root, 'dist', 'backend', 'orchestra.cjs');

/** Packages our own code imports that go into the bundle (with everything they import). */
const BUNDLED = new Set([
  'express',
  'socket.io',
  'kysely',
  'zod',
  'prom-client',
  'pino',
  'opossum',
  'lru-cache',
]);

const packageName = (specifier) => {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
};

/** Our code's bare imports outside BUNDLED stay external; dependencies of bundled packages are bundled. */
const choosePackages = {
  name: 'orchestra-externals',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      const fromOurCode = !args.importer.includes(`${path.sep}node_modules${path.sep}`);
      if (fromOurCode && !BUNDLED.has(packageName(args.path))) return { path: args.path, external: true };
      return undefined;
    });
  },
};

const options = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Modules that find files relative to themselves (the package root, createRequire) see the
  // bundle's own location, which sits where the compiled modules do: dist/backend/.
  define: { 'import.meta.url': '__orchestraBundleUrl' },
  banner: { js: "'use strict';\nvar __orchestraBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  // Names stay readable in logs and stack traces; only whitespace and syntax are compacted.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: false,
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
  plugins: [choosePackages],
};

const bundles = [
  [entry, outfile],
  [path.join(root, 'dist', 'backend', 'governance', 'worker.js'), path.join(root, 'dist', 'backend', 'governance-worker.cjs')],
];
for (const [from, to] of bundles) {
  const result = await build({ ...options, entryPoints: [from], outfile: to });
  writeFileSync(`${to}.meta.json`, JSON.stringify(result.metafile));
  const bytes = result.metafile.outputs[path.relative(process.cwd(), to)]?.bytes;
  process.stdout.write(`bundled ${path.relative(root, to)}${bytes !== undefined ? ` (${(bytes / 1024 / 1024).toFixed(1)} MiB)` : ''}\n`);
}
