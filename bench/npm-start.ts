import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, line, median, root, waitForHttp } from './lib.js';

/**
 * `npm start` on a tree that is already built: spawn to the first 200 from /healthz, next to
 * `node bin/orchestra.js serve` started the same way (no npm, no staleness check), and to a bare
 * `node -e ''` (spawn to exit) as the baseline of this machine at this moment: the ratios hold on a
 * loaded machine where the absolute times do not. Target: ready in under 3 s on a quiet one.
 */
async function timeToReady(command: string, args: string[]): Promise<number> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'orchestra-bench-start-'));
  const started = performance.now();
  const child = spawn(command, [...args, '--port', String(port)], {
    cwd: root,
    env: { ...process.env, DATA_DIR: dataDir, LOG_TO_FILE: 'false' },
    stdio: 'ignore',
    detached: true,
  });
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, 60_000);
    return performance.now() - started;
  } finally {
    // npm runs the server as a child of its own: signal the whole group.
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

export async function npmStart(): Promise<void> {
  const check = spawnSync(process.execPath, [path.join(root, 'tools', 'build-if-stale.mjs'), '--check'], { cwd: root, encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`the tree is not built (run npm run build first): ${check.stderr.trim()}`);
  const checkRuns: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, [path.join(root, 'tools', 'build-if-stale.mjs'), '--check'], { cwd: root });
    checkRuns.push(performance.now() - t0);
  }
  const npm: number[] = [];
  const direct: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', ''], { cwd: root });
    bare.push(performance.now() - t0);
    npm.push(await timeToReady('npm', ['start', '--silent', '--']));
    direct.push(await timeToReady(process.execPath, [path.join(root, 'bin', 'orchestra.js'), 'serve']));
  }
  const n = median(npm);
  const d = median(direct);
  const b = median(bare);
  line('staleness check on a built tree', `${median(checkRuns).toFixed(0)} ms`, 'content hashes of every source');
  line("baseline: node -e '' (spawn -> exit)", `${b.toFixed(0)} ms`, '1.00x');
  line('orchestra serve (spawn -> /healthz 200)', `${d.toFixed(0)} ms`, `${(d / b).toFixed(1)}x baseline`);
  line(
    'npm start on a built tree (spawn -> /healthz 200)',
    `${n.toFixed(0)} ms`,
    `${(n / b).toFixed(1)}x baseline, ${(n / d).toFixed(2)}x orchestra serve; target < 3000 ms ${n < 3000 ? 'PASS' : 'MISS'}`,
  );
}
