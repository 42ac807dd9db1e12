import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { line } from './lib.js';

const root = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const MB = 1024 * 1024;
/** The packaging issue's budget for app.asar + app.asar.unpacked. */
const TARGET_MB = 60;

function sizeAndCount(p: string): { bytes: number; files: number } {
  const s = statSync(p);
  if (!s.isDirectory()) return { bytes: s.size, files: 1 };
  let bytes = 0;
  let files = 0;
  for (const name of readdirSync(p)) {
    const sub = sizeAndCount(path.join(p, name));
    bytes += sub.bytes;
    files += sub.files;
  }
  return { bytes, files };
}

/**
 * The desktop app's payload: app.asar plus app.asar.unpacked, from `dist.mjs --dir` around a
 * stand-in Electron (the real binary is not needed to pack). The baseline is what packing the
 * production dependencies whole would ship: their node_modules folders, measured the same way.
 */
export async function packageSize(): Promise<void> {
  const { stdout } = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, maxBuffer: 16 * MB }).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
  );
  const prodDirs = [...new Set(stdout.split('\n').filter((d) => d.includes(`${path.sep}node_modules${path.sep}`)))];
  // Nested folders are counted with their parents; count each file once.
  const topLevel = prodDirs.filter((d) => !prodDirs.some((other) => other !== d && d.startsWith(`${other}${path.sep}`)));
  const baseline = topLevel.reduce((acc, d) => {
    const s = sizeAndCount(d);
    return { bytes: acc.bytes + s.bytes, files: acc.files + s.files };
  }, { bytes: 0, files: 0 });

  const work = mkdtempSync(path.join(os.tmpdir(), 'orchestra-bench-package-'));
  try {
    const electronDist = path.join(work, 'electron-dist');
    mkdirSync(electronDist);
    writeFileSync(path.join(electronDist, 'electron'), '#!/bin/sh\nexit 1\n');
    chmodSync(path.join(electronDist, 'electron'), 0o755);
    const electronVersion = (JSON.parse(readFileSync(path.join(root, 'node_modules/electron/package.json'), 'utf8')) as { version: string }).version;
    writeFileSync(path.join(electronDist, 'version'), electronVersion);
    writeFileSync(path.join(electronDist, 'LICENSE'), '');
    writeFileSync(path.join(electronDist, 'LICENSES.chromium.html'), '');
    await run(process.execPath, [path.join(root, 'tools/desktop/dist.mjs'), '--dir', '--work', work], {
      cwd: root,
      env: { ...process.env, ORCHESTRA_ELECTRON_DIST: electronDist, ORCHESTRA_NATIVE_ABI: 'node' },
      maxBuffer: 16 * MB,
    });
    const resources = path.join(work, 'release', 'linux-unpacked', 'resources');
    const archive = sizeAndCount(path.join(resources, 'app.asar'));
    const unpacked = sizeAndCount(path.join(resources, 'app.asar.unpacked'));
    const payload = archive.bytes + unpacked.bytes;
    const mb = (b: number): string => `${(b / MB).toFixed(1)} MB`;
    line('desktop payload (app.asar + unpacked)', `${mb(payload)} (${mb(archive.bytes)} + ${mb(unpacked.bytes)})`, `target <= ${TARGET_MB} MB ${payload <= TARGET_MB * MB ? 'PASS' : 'MISS'}`);
    line('  vs production node_modules, shipped whole', `${mb(baseline.bytes)}, ${baseline.files} files`, `${(payload / baseline.bytes).toFixed(2)}x the size`);
    line('  files in the package', `${unpacked.files} unpacked + app.asar`, '');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
