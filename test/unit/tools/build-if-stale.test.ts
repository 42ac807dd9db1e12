import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprint, inputFiles, readStamps, staleness, TARGETS, writeStamp, type BuildTarget } from '../../../tools/build-if-stale.mjs';
import { tempDir } from '../../fixtures/test-server.js';

const target: BuildTarget = { name: 'server', inputs: ['src', 'build.json'], outputs: ['dist/out.js'], script: 'build:x' };

function tree(): string {
  const dir = tempDir('stale-');
  mkdirSync(path.join(dir, 'src', 'sub'), { recursive: true });
  mkdirSync(path.join(dir, 'src', 'node_modules'), { recursive: true });
  writeFileSync(path.join(dir, 'src', 'a.ts'), 'export const a = 1;\n');
  writeFileSync(path.join(dir, 'src', 'sub', 'b.ts'), 'export const b = 2;\n');
  writeFileSync(path.join(dir, 'src', 'node_modules', 'ignored.js'), 'x');
  writeFileSync(path.join(dir, 'build.json'), '{}');
  return dir;
}

function built(dir: string): void {
  mkdirSync(path.join(dir, 'dist'), { recursive: true });
  writeFileSync(path.join(dir, 'dist', 'out.js'), '// built');
  writeStamp(dir, target.name, fingerprint(dir, target.inputs));
}

describe('build only what changed', () => {
  it('builds a fresh clone: outputs missing, then never built here', () => {
    const dir = tree();
    expect(staleness(dir, target)?.reason).toBe('dist/out.js is missing');
    mkdirSync(path.join(dir, 'dist'));
    writeFileSync(path.join(dir, 'dist', 'out.js'), '// built elsewhere');
    expect(staleness(dir, target)?.reason).toBe('never built here');
  });

  it('skips a built tree, also when files were touched but not changed', () => {
    const dir = tree();
    built(dir);
    expect(staleness(dir, target)).toBeUndefined();
    const later = new Date(Date.now() + 60_000);
    utimesSync(path.join(dir, 'src', 'a.ts'), later, later);
    expect(staleness(dir, target)).toBeUndefined();
    // node_modules below an input is not a source
    writeFileSync(path.join(dir, 'src', 'node_modules', 'ignored.js'), 'changed');
    expect(staleness(dir, target)).toBeUndefined();
  });

  it.each([
    ['an edited source', (dir: string) => writeFileSync(path.join(dir, 'src', 'sub', 'b.ts'), 'export const b = 3;\n')],
    ['a new source', (dir: string) => writeFileSync(path.join(dir, 'src', 'c.ts'), '')],
    ['a deleted source', (dir: string) => rmSync(path.join(dir, 'src', 'a.ts'))],
    ['a renamed source', (dir: string) => {
      rmSync(path.join(dir, 'src', 'a.ts'));
      writeFileSync(path.join(dir, 'src', 'a2.ts'), 'export const a = 1;\n');
    }],
    ['a changed build file', (dir: string) => writeFileSync(path.join(dir, 'build.json'), '{"x":1}')],
    ['a deleted output', (dir: string) => rmSync(path.join(dir, 'dist', 'out.js'))],
  ])('rebuilds after %s', (_what, change) => {
    const dir = tree();
    built(dir);
    change(dir);
    expect(staleness(dir, target)).toBeDefined();
  });

  it('keeps one stamp per target', () => {
    const dir = tree();
    writeStamp(dir, 'server', 'aaa');
    writeStamp(dir, 'renderer', 'bbb');
    expect(readStamps(dir)).toEqual({ server: 'aaa', renderer: 'bbb' });
    expect(inputFiles(dir, ['src'])).toEqual([path.join('src', 'a.ts'), path.join('src', 'sub', 'b.ts')]);
  });

  it('covers the real build: the server from backend/main/preload, the renderer from renderer/', () => {
    const root = path.resolve(import.meta.dirname, '../../..');
    const server = TARGETS.find((t) => t.name === 'server');
    const renderer = TARGETS.find((t) => t.name === 'renderer');
    expect(server?.outputs).toContain('dist/backend/orchestra.cjs');
    const serverFiles = inputFiles(root, server?.inputs ?? []);
    expect(serverFiles).toContain(path.join('backend', 'server.ts'));
    expect(serverFiles).toContain('tsconfig.build.json');
    expect(serverFiles.some((f) => f.startsWith('renderer'))).toBe(false);
    expect(inputFiles(root, renderer?.inputs ?? []).some((f) => f.startsWith(path.join('renderer', 'src')))).toBe(true);
  });
});
