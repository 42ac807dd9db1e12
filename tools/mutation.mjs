// npm run test:mutation -- [module…]: Stryker over one module at a time (stryker.config.mjs lists
// them), each with its own tests and one process, because the machine is shared and mutation
// testing is CPU-heavy. Without arguments it runs the config module.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const modules = process.argv.slice(2);
let failed = 0;
for (const module of modules.length > 0 ? modules : ['config']) {
  process.stderr.write(`mutation: ${module}\n`);
  const run = spawnSync(process.execPath, [path.join(root, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js'), 'run', 'stryker.config.mjs'], {
    cwd: root,
    env: { ...process.env, MUTATION_MODULE: module },
    stdio: 'inherit',
  });
  if (run.status !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;
