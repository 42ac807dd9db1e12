#!/usr/bin/env node
// The `orchestra` command. It runs the compiled CLI from dist/, built by `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const entry = path.join(root, 'dist', 'backend', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('orchestra: the server is not built yet; run "npm run build" (or "npm start") first\n');
  process.exit(2);
}
const { main } = await import(pathToFileURL(entry).href);
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Anything still holding the event loop after a command finished is a bug; do not hang the shell.
setTimeout(() => process.exit(code), 2000).unref();
