/** `orchestra hooks install|uninstall`: where the hook goes, what it runs, and foreign hooks. */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHooksCli } from '../../../backend/governance/cli.js';
import { installHook } from '../../../backend/governance/hooks.js';
import { captureIo, gitIn, initRepo, isolateGitConfig, tempDir } from './helpers.js';

const root = path.resolve(import.meta.dirname, '../../..');
let restoreGit: () => void;
beforeAll(() => {
  restoreGit = isolateGitConfig();
});
afterAll(() => {
  restoreGit();
});

function withRepo(test: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const t = tempDir('gov-hooks-');
    try {
      initRepo(t.dir);
      await test(t.dir);
    } finally {
      t.cleanup();
    }
  };
}

describe('orchestra hooks install', () => {
  it(
    'writes an executable pre-commit hook that validates the staged files',
    withRepo(async (dir) => {
      const io = captureIo(dir);
      expect(await runHooksCli(['install'], io)).toBe(0);
      const hook = path.join(dir, '.git/hooks/pre-commit');
      const text = readFileSync(hook, 'utf8');
      // The orchestra that installed it, by absolute path: no npx, no node_modules of the repository.
      expect(text).toContain(`node='${process.execPath}'`);
      expect(text).toContain(`orchestra='${path.join(root, 'bin', 'orchestra.js')}'`);
      expect(text).toContain('exec "$node" "$orchestra" validate --staged');
      expect(text).not.toContain('npx');
      expect(readFileSync(hook, 'utf8').startsWith('#!/bin/sh\n')).toBe(true);
      expect(statSync(hook).mode & 0o111).toBe(0o111);
      // Re-running updates our own hook without --force.
      expect(await runHooksCli(['hooks', 'install'], captureIo(dir))).toBe(0);
    }),
  );

  it(
    'refuses to overwrite a foreign hook unless --force, and keeps a backup',
    withRepo(async (dir) => {
      const hook = path.join(dir, '.git/hooks/pre-commit');
      writeFileSync(hook, '#!/bin/sh\necho mine\n', { mode: 0o755 });
      const refused = captureIo(dir);
      expect(await runHooksCli(['install'], refused)).toBe(1);
      expect(refused.err()).toContain('--force');
      expect(readFileSync(hook, 'utf8')).toBe('#!/bin/sh\necho mine\n');

      expect(await runHooksCli(['install', '--force'], captureIo(dir))).toBe(0);
      expect(readFileSync(hook, 'utf8')).toContain('"$orchestra" validate --staged');
      expect(readFileSync(`${hook}.orchestra-backup`, 'utf8')).toBe('#!/bin/sh\necho mine\n');

      // Uninstall puts the previous hook back.
      expect(await runHooksCli(['uninstall'], captureIo(dir))).toBe(0);
      expect(readFileSync(hook, 'utf8')).toBe('#!/bin/sh\necho mine\n');
      expect(existsSync(`${hook}.orchestra-backup`)).toBe(false);
    }),
  );

  it(
    'respects core.hooksPath',
    withRepo(async (dir) => {
      gitIn(dir, 'config', 'core.hooksPath', '.githooks');
      expect(await runHooksCli(['install'], captureIo(dir))).toBe(0);
      expect(readFileSync(path.join(dir, '.githooks/pre-commit'), 'utf8')).toContain('"$orchestra" validate --staged');
      expect(existsSync(path.join(dir, '.git/hooks/pre-commit'))).toBe(false);
    }),
  );

  it(
    'leaves a foreign hook alone on uninstall',
    withRepo(async (dir) => {
      const hook = path.join(dir, '.git/hooks/pre-commit');
      writeFileSync(hook, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      expect(await runHooksCli(['uninstall'], captureIo(dir))).toBe(1);
      expect(existsSync(hook)).toBe(true);
    }),
  );

  it('exits 2 on usage errors and outside a repository', async () => {
    const t = tempDir();
    try {
      const usage = captureIo(t.dir);
      expect(await runHooksCli(['frobnicate'], usage)).toBe(2);
      expect(usage.err()).toContain('unknown hooks command');
      const outside = captureIo(t.dir);
      expect(await runHooksCli(['install'], outside)).toBe(2);
      expect(outside.err()).toContain('not in a git repository');
    } finally {
      t.cleanup();
    }
  });
});

/** `git commit` in a repository with no Orchestra of its own: the hook is all that runs it. */
function commit(dir: string, files: Record<string, string>): { status: number | null; stderr: string } {
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  gitIn(dir, 'add', '--', ...Object.keys(files));
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'change'], { cwd: dir, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('the installed hook on a real git commit', () => {
  it(
    'blocks a commit whose staged code fails and lets a clean one through',
    withRepo(async (dir) => {
      expect(existsSync(path.join(root, 'dist', 'backend', 'orchestra.cjs')), 'npm run build:server first').toBe(true);
      expect(await runHooksCli(['install'], captureIo(dir))).toBe(0);
      const bad = commit(dir, { 'run.js': 'const input = process.argv[2];\neval(input);\n' });
      expect(bad.status).not.toBe(0);
      expect(bad.stderr + '').toMatch(/no-eval/);
      expect(() => execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, stdio: 'pipe' })).toThrow();
      gitIn(dir, 'rm', '-q', '--cached', 'run.js');
      const good = commit(dir, { 'add.js': 'export const add = (a, b) => a + b;\n' });
      expect(good.stderr).toMatch(/^PASS/);
      expect(good.status).toBe(0);
      expect(gitIn(dir, 'log', '--format=%s').trim()).toBe('change');
    }),
  );

  it(
    'says in one line that its orchestra is gone and how to reinstall, and does not block the commit',
    withRepo(async (dir) => {
      // An orchestra that was installed from somewhere and then removed.
      const elsewhere = tempDir('gov-moved-');
      const script = path.join(elsewhere.dir, 'orchestra.js');
      copyFileSync(path.join(root, 'bin', 'orchestra.js'), script);
      await installHook(dir, false, { node: process.execPath, script });
      elsewhere.cleanup();
      const r = commit(dir, { 'run.js': 'eval(process.argv[2]);\n' });
      expect(r.status).toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toBe(
        `orchestra pre-commit hook: skipped, ${script} (run by ${process.execPath}) is gone; run "orchestra hooks install" from your Orchestra checkout to reinstall it`,
      );
      expect(r.stderr).not.toMatch(/npm/);
    }),
  );
});
