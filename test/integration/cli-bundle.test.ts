/**
 * The `orchestra` command runs the bundled CLI (dist/backend/orchestra.cjs), not the modules the
 * other tests import. These checks run it as users do, as a child process, on the paths that load
 * packages the bundle leaves outside: every governance engine, and the native SQLite addon.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

vi.setConfig({ testTimeout: 60_000 });

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin', 'orchestra.js');
const run = promisify(execFile);

let dir: string;

beforeAll(() => {
  if (!existsSync(path.join(root, 'dist', 'backend', 'orchestra.cjs'))) {
    throw new Error('dist/backend/orchestra.cjs is missing: run "npm run build" (npm test builds first)');
  }
  dir = mkdtempSync(path.join(tmpdir(), 'orchestra-cli-'));
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name: 'sample', version: '1.0.0', dependencies: { express: '^5.0.0' } }),
    'app.ts': [
      "import express from 'express';",
      "import pad from 'left-pad-made-up';",
      '',
      'export function run(input: string): unknown {',
      '  debugger;',
      '  return eval(input) ?? pad ?? express;',
      '}',
      '',
    ].join('\n'),
    'tool.py': ['GITHUB_TOKEN = "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"', 'import subprocess', 'subprocess.call(cmd, shell=True)', ''].join('\n'),
    'broken.py': 'def broken(:\n  pass\n',
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Report {
  verdict: string;
  findings: Array<{ engine: string; ruleId: string; path: string; line: number }>;
}

describe('the bundled orchestra command', () => {
  it('validate finds what every engine is there for, on the right lines, and exits 1', async () => {
    const failed = await run(process.execPath, [bin, 'validate', '--format', 'json', 'app.ts', 'tool.py', 'broken.py'], { cwd: dir }).then(
      () => undefined,
      (err: { code?: number; stdout?: string }) => err,
    );
    expect(failed?.code).toBe(1);
    const report = JSON.parse(failed?.stdout ?? '') as Report;
    expect(report.verdict).toBe('fail');
    const seen = report.findings.map((f) => `${f.engine} ${f.ruleId} ${f.path}:${f.line}`).sort();
    expect(seen).toEqual(
      [
        'dependencies missing-dependency app.ts:2',
        'lint no-debugger app.ts:5',
        'lint no-eval app.ts:6',
        'secrets github-token tool.py:1',
        'structural python-subprocess-shell tool.py:3',
        'syntax syntax-error broken.py:1',
      ].sort(),
    );
  });

  it('validate exits 0 on clean code and 2 on a usage error', async () => {
    writeFileSync(path.join(dir, 'clean.ts'), 'export const answer = 42;\n');
    const clean = await run(process.execPath, [bin, 'validate', 'clean.ts'], { cwd: dir });
    expect(clean.stdout).toMatch(/^PASS: 0 problems/);
    const usage = await run(process.execPath, [bin, 'validate', '--format', 'xml'], { cwd: dir }).catch((err: { code?: number; stderr?: string }) => err);
    expect('code' in usage ? usage.code : 0).toBe(2);
  });

  it('--version prints the package version', async () => {
    const { stdout } = await run(process.execPath, [bin, '--version'], { cwd: dir });
    const { version } = JSON.parse((await import('node:fs')).readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(stdout.trim()).toContain(version);
  });
});
