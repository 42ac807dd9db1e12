/**
 * Shared test helpers: temporary directories, an in-memory CLI io, and fake credentials.
 * Credentials are assembled at run time so this file never contains one literally (the repo's
 * own governance pre-commit hook scans test sources too).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { CliIo } from '../../../backend/governance/cli.js';

export function tempDir(prefix = 'gov-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    const full = path.join(root, name);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
}

export function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' });
}

export function initRepo(dir: string): void {
  gitIn(dir, 'init', '-q');
}

/**
 * Makes git ignore the machine's global and system config (a global core.hooksPath or
 * templates would change where hooks go). Child processes, including the code under test,
 * inherit it. Returns a restore function.
 */
export function isolateGitConfig(): () => void {
  const saved = { global: process.env.GIT_CONFIG_GLOBAL, nosystem: process.env.GIT_CONFIG_NOSYSTEM };
  process.env.GIT_CONFIG_GLOBAL = os.devNull;
  process.env.GIT_CONFIG_NOSYSTEM = '1';
  return () => {
    if (saved.global === undefined) delete process.env.GIT_CONFIG_GLOBAL;
    else process.env.GIT_CONFIG_GLOBAL = saved.global;
    if (saved.nosystem === undefined) delete process.env.GIT_CONFIG_NOSYSTEM;
    else process.env.GIT_CONFIG_NOSYSTEM = saved.nosystem;
  };
}

export interface CapturedIo extends CliIo {
  out(): string;
  err(): string;
}

export function captureIo(cwd: string, env: NodeJS.ProcessEnv = {}): CapturedIo {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _enc, done) {
        append(chunk.toString());
        done();
      },
    });
  return {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    cwd,
    env,
    out: () => out,
    err: () => err,
  };
}

/** Fake credentials in the formats the detectors know, built so no literal one is in the source. */
export const fake = {
  awsKeyId: () => ['AKIA', 'Z7QW', 'ERTY', 'UIOP', 'ASDF'].join(''),
  awsDocsKeyId: () => ['AKIA', 'IOSFODNN7', 'EXAMPLE'].join(''),
  githubToken: () => ['gh', 'p_', 'A1b2C3d4E5f6G7h8I9j0', 'K1l2M3n4O5p6Q7r8'].join(''),
  slackToken: () => ['xo', 'xb-', '123456789012-1234567890123-', 'AbCdEfGhIjKlMnOpQrStUvWx'].join(''),
  npmToken: () => ['np', 'm_', 'a1B2c3D4e5F6g7H8i9J0', 'k1L2m3N4o5P6q7R8'].join(''),
  randomKey: () => ['Zx8fQ2mN', '7pL4kR9s', 'T1vW3yB6'].join(''),
  password: () => ['hunter', '2', 'hunter'].join(''),
  pem: () =>
    [
      ['-----BEGIN', 'RSA PRIVATE KEY-----'].join(' '),
      'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun',
      'VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK',
      ['-----END', 'RSA PRIVATE KEY-----'].join(' '),
    ].join('\n'),
};
