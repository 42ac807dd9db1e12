/**
 * The few git plumbing calls the CLI needs. Staged content is read from the index (the blob
 * `git commit` will record), never from the working tree, in one `git cat-file --batch` process
 * rather than one `git show` per file.
 */
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';

export class GitError extends Error {
  override name = 'GitError';
}

export function git(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new GitError(`git ${args.join(' ')}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
  });
}

export async function repoRoot(cwd: string): Promise<string> {
  return path.resolve((await git(['rev-parse', '--show-toplevel'], cwd)).trim());
}

/** Added, copied, modified and renamed paths in the index, relative to the repository root. */
export async function stagedPaths(root: string): Promise<string[]> {
  const out = await git(['diff', '--cached', '--name-only', '-z', '--diff-filter=ACMR'], root);
  return out.split('\0').filter((p) => p.length > 0);
}

/** The staged blob of each path (`:path`), as bytes; paths git cannot resolve are left out. */
export function stagedBlobs(root: string, paths: string[]): Promise<Map<string, Buffer>> {
  // --batch reads one object name per line; a path with a newline cannot be asked for.
  const requested = paths.filter((p) => !p.includes('\n'));
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['cat-file', '--batch'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (err) => {
      reject(new GitError(`git cat-file: ${err.message}`));
    });
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new GitError(`git cat-file --batch exited with ${code}: ${stderr.trim()}`));
        return;
      }
      resolve(parseBatch(Buffer.concat(chunks), requested));
    });
    // If git exits early, writing fails with EPIPE; the exit code above reports the real error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(requested.map((p) => `:${p}\n`).join(''));
  });
}

function parseBatch(out: Buffer, paths: string[]): Map<string, Buffer> {
  const blobs = new Map<string, Buffer>();
  let offset = 0;
  for (const p of paths) {
    const headerEnd = out.indexOf(0x0a, offset);
    if (headerEnd === -1) break;
    const header = out.subarray(offset, headerEnd).toString('utf8');
    offset = headerEnd + 1;
    const match = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
    if (!match) continue; // "<name> missing"
    const size = Number(match[2]);
    if (match[1] === 'blob') blobs.set(p, out.subarray(offset, offset + size));
    offset += size + 1;
  }
  return blobs;
}
