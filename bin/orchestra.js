#!/usr/bin/env node
// The `orchestra` command. It runs the CLI bundled into dist/backend/orchestra.cjs by
// `npm run build` (tools/bundle-cli.mjs explains why it is one file).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const entry = path.join(root, 'dist', 'backend', 'orchestra.cjs');
if (!existsSync(entry)) {
  process.stderr.write('orchestra: the server is not built yet; run "npm run build" (or "npm start") first\n');
  process.exit(2);
}
const { main } = createRequire(import.meta.url)(entry);
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Anything still holding the event loop after a command finished is a bug; do not hang the shell.
setTimeout(() => process.exit(code), 2000).unref();
