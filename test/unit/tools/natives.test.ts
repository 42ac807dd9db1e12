import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rebuildNatives, type RebuildOptions } from '../../../tools/desktop/natives.mjs';

const BINARY = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
const dirs: string[] = [];

/** A project whose better-sqlite3 is "built for Node", and a staged app holding a copy of that binary. */
function setup() {
  const base = mkdtempSync(path.join(os.tmpdir(), 'orchestra-natives-'));
  dirs.push(base);
  const root = path.join(base, 'project');
  const appDir = path.join(base, 'app');
  for (const dir of [root, appDir]) {
    mkdirSync(path.dirname(path.join(dir, BINARY)), { recursive: true });
    writeFileSync(path.join(dir, BINARY), 'node-abi');
  }
  writeFileSync(path.join(root, 'node_modules/better-sqlite3/package.json'), '{"name":"better-sqlite3","version":"12.0.0"}');
  return { root, appDir, logs: [] as string[] };
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('rebuildNatives (packaging)', () => {
  it('rebuilds better-sqlite3 for the Electron version from a full copy and ships that binary', async () => {
    const { root, appDir, logs } = setup();
    const calls: RebuildOptions[] = [];
    const result = await rebuildNatives({
      root,
      appDir,
      electronVersion: '45.5.0',
      arch: 'x64',
      env: {},
      log: (l) => logs.push(l),
      rebuild: (options) => {
        calls.push(options);
        writeFileSync(path.join(options.buildPath, BINARY), `electron-${options.electronVersion}`);
        return Promise.resolve();
      },
    });
    expect(result).toEqual({ rebuilt: true });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ electronVersion: '45.5.0', arch: 'x64', onlyModules: ['better-sqlite3'], force: true });
    expect(calls[0]?.buildPath).not.toBe(appDir);
    expect(readFileSync(path.join(appDir, BINARY), 'utf8')).toBe('electron-45.5.0');
    expect(readFileSync(path.join(root, BINARY), 'utf8')).toBe('node-abi'); // the project's own copy is left alone
  });

  it('fails the build when the rebuild fails, leaving no Electron-looking binary behind', async () => {
    const { root, appDir } = setup();
    await expect(
      rebuildNatives({
        root,
        appDir,
        electronVersion: '45.5.0',
        env: {},
        log: () => undefined,
        rebuild: () => Promise.reject(new Error('gyp ERR! could not download headers')),
      }),
    ).rejects.toThrow('rebuilding native addons for Electron 45.5.0 failed, so nothing was packed: gyp ERR! could not download headers');
    expect(readFileSync(path.join(appDir, BINARY), 'utf8')).toBe('node-abi');
  });

  it('keeps the Node build only when told so explicitly (the packaging test), and says the package is for tests', async () => {
    const { root, appDir, logs } = setup();
    let called = false;
    const result = await rebuildNatives({
      root,
      appDir,
      electronVersion: '45.5.0',
      env: { ORCHESTRA_NATIVE_ABI: 'node' },
      log: (l) => logs.push(l),
      rebuild: () => {
        called = true;
        return Promise.resolve();
      },
    });
    expect(result).toEqual({ rebuilt: false });
    expect(called).toBe(false);
    expect(logs.join('\n')).toMatch(/for tests only/);
  });
});
