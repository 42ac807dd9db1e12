// `npm run dist` / `npm run dist:dir`: stage the app (stage.mjs), then run electron-builder on the
// staged directory with electron-builder.yml.
//
// Native addons are rebuilt for Electron's ABI first (natives.mjs); a failed rebuild stops here.
// Electron itself is taken from a local distribution (`electronDist`), never downloaded: the
// one `npm install` put into node_modules/electron/dist, or ORCHESTRA_ELECTRON_DIST.
//
//   node tools/desktop/dist.mjs [--dir] [--work DIR] [-- extra electron-builder args]
//     --dir    only the unpacked app (release/linux-unpacked, …), no installers
//     --work   stage into DIR/app and write the output to DIR/release (tests use a temp dir)
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rebuildNatives } from './natives.mjs';
import { stage } from './stage.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function dist({ dir = false, work, extraArgs = [], env = process.env } = {}) {
  const appDir = work ? path.join(work, 'app') : path.join(root, 'build', 'desktop-app');
  const output = work ? path.join(work, 'release') : path.join(root, 'release');
  const electronDist = env.ORCHESTRA_ELECTRON_DIST || path.join(root, 'node_modules', 'electron', 'dist');
  if (!existsSync(path.join(electronDist, process.platform === 'darwin' ? 'Electron.app' : process.platform === 'win32' ? 'electron.exe' : 'electron'))) {
    throw new Error(
      `no Electron distribution at ${electronDist}: install the electron package with its binary (npm install), or point ORCHESTRA_ELECTRON_DIST at an unpacked Electron`,
    );
  }
  await stage(appDir);
  const electronVersion = JSON.parse(readFileSync(path.join(root, 'node_modules', 'electron', 'package.json'), 'utf8')).version;
  await rebuildNatives({ root, appDir, electronVersion, env });
  const args = [
    path.join(root, 'node_modules', 'electron-builder', 'cli.js'),
    '--config',
    path.join(root, 'electron-builder.yml'),
    '--projectDir',
    root,
    `-c.directories.app=${appDir}`,
    `-c.directories.output=${output}`,
    `-c.electronDist=${electronDist}`,
    `-c.electronVersion=${electronVersion}`,
    '--publish',
    'never',
    ...(dir ? ['--dir'] : []),
    ...extraArgs,
  ];
  await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`electron-builder exited with code ${code}`))));
  });
  return { appDir, output };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const sep = argv.indexOf('--');
  const own = sep === -1 ? argv : argv.slice(0, sep);
  const workAt = own.indexOf('--work');
  try {
    const { output } = await dist({
      dir: own.includes('--dir'),
      work: workAt === -1 ? undefined : path.resolve(own[workAt + 1]),
      extraArgs: sep === -1 ? [] : argv.slice(sep + 1),
    });
    process.stdout.write(`desktop app written to ${path.relative(process.cwd(), output) || '.'}\n`);
  } catch (err) {
    process.stderr.write(`dist: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
