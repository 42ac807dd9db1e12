/** `orchestra hooks install|uninstall`: where the hook goes, what it runs, and foreign hooks. */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runHooksCli } from '../../../backend/governance/cli.js';
import { captureIo, gitIn, initRepo, isolateGitConfig, tempDir } from './helpers.js';

// Engines load per test file; on a busy 2-core machine that alone can take seconds.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 60_000 });

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
      expect(readFileSync(hook, 'utf8')).toContain('exec npx --no-install orchestra validate --staged');
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
      expect(readFileSync(hook, 'utf8')).toContain('orchestra validate --staged');
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
      expect(readFileSync(path.join(dir, '.githooks/pre-commit'), 'utf8')).toContain('orchestra validate --staged');
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
