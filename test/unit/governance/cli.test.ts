/**
 * The CLI: `validate --staged` reads what the commit will contain (the index), not the working
 * tree; paths and directories; output formats; exit codes.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runValidateCli } from '../../../backend/governance/cli.js';
import { captureIo, gitIn, initRepo, isolateGitConfig, tempDir, writeFiles } from './helpers.js';

let restoreGit: () => void;
beforeAll(() => {
  restoreGit = isolateGitConfig();
});
afterAll(() => {
  restoreGit();
});

function repo(): { dir: string; cleanup: () => void } {
  const t = tempDir('gov-repo-');
  initRepo(t.dir);
  return t;
}

describe('orchestra validate --staged', () => {
  it('fails on a bad staged file even when the working tree copy is clean', async () => {
    const r = repo();
    try {
      writeFiles(r.dir, { 'src/app.py': 'import pickle\nobj = pickle.loads(data)\n' });
      gitIn(r.dir, 'add', 'src/app.py');
      writeFileSync(path.join(r.dir, 'src/app.py'), 'import json\nobj = json.loads(data)\n');
      const io = captureIo(r.dir);
      expect(await runValidateCli(['--staged'], io)).toBe(1);
      expect(io.out()).toContain('src/app.py:2:7 error python-pickle-load');
    } finally {
      r.cleanup();
    }
  });

  it('passes on a clean staged file even when the working tree copy is bad', async () => {
    const r = repo();
    try {
      writeFiles(r.dir, { 'src/app.ts': 'export const add = (a: number, b: number): number => a + b;\n' });
      gitIn(r.dir, 'add', 'src/app.ts');
      writeFileSync(path.join(r.dir, 'src/app.ts'), 'export const add = (a: number, b: number): number => eval(`${a}+${b}`);\n');
      // An unstaged bad file is not part of the commit either.
      writeFiles(r.dir, { 'src/untracked.js': 'debugger;\n' });
      const io = captureIo(r.dir);
      expect(await runValidateCli(['--staged'], io)).toBe(0);
      expect(io.out()).toContain('PASS: 0 problems');
      expect(io.out()).toContain('in 1 file');
    } finally {
      r.cleanup();
    }
  });

  it('reports paths relative to the repository root when run from a subdirectory, and honours path filters', async () => {
    const r = repo();
    try {
      writeFiles(r.dir, { 'pkg/a/bad.js': 'debugger;\n', 'pkg/b/bad.js': 'debugger;\n', 'docs/readme.md': '# hi\n' });
      gitIn(r.dir, 'add', '.');
      const io = captureIo(path.join(r.dir, 'pkg'));
      expect(await runValidateCli(['--staged', 'a'], io)).toBe(1);
      expect(io.out()).toContain('pkg/a/bad.js:1:1 error no-debugger');
      expect(io.out()).not.toContain('pkg/b/bad.js');
    } finally {
      r.cleanup();
    }
  });

  it('exits 2 outside a git repository', async () => {
    const t = tempDir();
    try {
      const io = captureIo(t.dir);
      expect(await runValidateCli(['--staged'], io)).toBe(2);
      expect(io.err()).toContain('orchestra validate:');
    } finally {
      t.cleanup();
    }
  });
});

describe('orchestra validate [paths]', () => {
  it('walks directories, skipping node_modules, .git and dist, and only picks supported files', async () => {
    const t = tempDir();
    try {
      writeFiles(t.dir, {
        'src/ok.ts': 'export const x = 1;\n',
        'src/notes.md': 'eval(x)\n',
        'node_modules/dep/index.js': 'debugger;\n',
        'dist/out.js': 'debugger;\n',
        'src/data.json': '{ "a": [1, 2,] }\n',
      });
      const io = captureIo(t.dir);
      expect(await runValidateCli(['--format', 'json'], io)).toBe(1);
      const report = JSON.parse(io.out()) as { summary: { files: number }; findings: Array<{ path: string; ruleId: string; line: number; column: number }> };
      expect(report.summary.files).toBe(2);
      expect(report.findings).toMatchObject([{ path: 'src/data.json', ruleId: 'syntax-error', line: 1, column: 14 }]);
    } finally {
      t.cleanup();
    }
  });

  it('writes SARIF with --format sarif and exits 0 when clean', async () => {
    const t = tempDir();
    try {
      writeFiles(t.dir, { 'main.go': 'package main\n\nfunc main() {}\n' });
      const io = captureIo(t.dir);
      expect(await runValidateCli(['validate', 'main.go', '-f', 'sarif'], io)).toBe(0);
      const log = JSON.parse(io.out()) as { version: string; runs: Array<{ results: unknown[] }> };
      expect(log.version).toBe('2.1.0');
      expect(log.runs[0]?.results).toEqual([]);
    } finally {
      t.cleanup();
    }
  });

  it('uses --config, then GOVERNANCE_CONFIG', async () => {
    const t = tempDir();
    try {
      writeFiles(t.dir, {
        'a.js': 'debugger;\n',
        'lenient.yaml': 'version: 1\nrules:\n  - { id: no-debugger, engine: lint, severity: note }\n',
      });
      const viaFlag = captureIo(t.dir);
      expect(await runValidateCli(['a.js', '--config', 'lenient.yaml'], viaFlag)).toBe(0);
      expect(viaFlag.out()).toContain('a.js:1:1 note no-debugger');
      const viaEnv = captureIo(t.dir, { GOVERNANCE_CONFIG: path.join(t.dir, 'lenient.yaml') });
      expect(await runValidateCli(['a.js'], viaEnv)).toBe(0);
      const defaults = captureIo(t.dir);
      expect(await runValidateCli(['a.js'], defaults)).toBe(1);
    } finally {
      t.cleanup();
    }
  });

  it.each([
    [['--format', 'xml'], '--format must be one of text|json|sarif'],
    [['--nope'], "Unknown option '--nope'"],
    [['missing-dir'], 'missing-dir: no such file or directory'],
  ])('exits 2 on usage errors: %j', async (args, message) => {
    const t = tempDir();
    try {
      const io = captureIo(t.dir);
      expect(await runValidateCli(args, io)).toBe(2);
      expect(io.err()).toContain(message);
    } finally {
      t.cleanup();
    }
  });
});
