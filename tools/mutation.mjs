// npm run test:mutation -- [module…]: Stryker over one module at a time (MODULES in
// stryker.config.mjs), each with its own tests, because the machine is shared and mutation testing
// is CPU-heavy. Without arguments it runs every module, one after the other.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODULES } from '../stryker.config.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const modules = process.argv.slice(2);
let failed = 0;
for (const module of modules.length > 0 ? modules : Object.keys(MODULES)) {
  process.stderr.write(`mutation: ${module}\n`);
  const run = spawnSync(process.execPath, [path.join(root, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js'), 'run', 'stryker.config.mjs'], {
    cwd: root,
    env: { ...process.env, MUTATION_MODULE: module },
    stdio: 'inherit',
  });
  if (run.status !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;
