// Native addons in the staged app are rebuilt for the Electron they will run in. Only
// better-sqlite3 needs it: it is compiled against one Node ABI, while ast-grep (N-API) and its
// tree-sitter parsers (plain shared libraries) load in any.
//
// A rebuild that fails fails the build: a package with a Node-ABI addon starts, then dies on the
// first database access. The only way round is ORCHESTRA_NATIVE_ABI=node, which the packaging test
// sets to check the package's contents with plain Node; such a package is not for people.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ADDONS = [{ name: 'better-sqlite3', binary: 'build/Release/better_sqlite3.node' }];

export async function rebuildNatives({
  root,
  appDir,
  electronVersion,
  arch = process.arch,
  env = process.env,
  log = (line) => process.stdout.write(`${line}\n`),
  // @electron/rebuild's rebuild(); tests pass their own.
  rebuild = undefined,
}) {
  if (env.ORCHESTRA_NATIVE_ABI === 'node') {
    log('  • native addons keep the Node ABI (ORCHESTRA_NATIVE_ABI=node): this package is for tests only');
    return { rebuilt: false };
  }
  rebuild ??= (await import('@electron/rebuild')).rebuild;
  // The staged addon has no sources; a full copy from the project is rebuilt and its binary taken.
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'orchestra-rebuild-'));
  try {
    writeFileSync(
      path.join(scratch, 'package.json'),
      JSON.stringify({ name: 'orchestra-rebuild', version: '0.0.0', dependencies: Object.fromEntries(ADDONS.map((a) => [a.name, '*'])) }),
    );
    for (const addon of ADDONS) cpSync(path.join(root, 'node_modules', addon.name), path.join(scratch, 'node_modules', addon.name), { recursive: true });
    log(`  • rebuilding ${ADDONS.map((a) => a.name).join(', ')} for Electron ${electronVersion} (${arch})`);
    try {
      await rebuild({ buildPath: scratch, electronVersion, arch, onlyModules: ADDONS.map((a) => a.name), force: true, mode: 'sequential' });
    } catch (err) {
      throw new Error(`rebuilding native addons for Electron ${electronVersion} failed, so nothing was packed: ${err instanceof Error ? err.message : String(err)}`);
    }
    for (const addon of ADDONS) {
      cpSync(path.join(scratch, 'node_modules', addon.name, addon.binary), path.join(appDir, 'node_modules', addon.name, addon.binary));
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return { rebuilt: true };
}
