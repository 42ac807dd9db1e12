import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { line, median, root, startOrchestra } from './lib.js';

/**
 * Governance through the running server and the CLI:
 * - a 50-line TypeScript snippet through POST /api/validate, warm (engines loaded, content varied
 *   so the result cache does not answer): p50 target < 15 ms, next to GET /api/status as the
 *   plain HTTP round trip of the same server;
 * - a 2,000-line TypeScript file: target < 300 ms;
 * - how much validating a reply delays chat:done: a reply with a code block vs the same length
 *   without one, p50 difference target < 20 ms;
 * - `orchestra validate --staged` on 20 staged files, including start-up: target < 2.5 s, next
 *   to `orchestra --version` as the bare start-up.
 */
function snippet(lines: number, salt: number): string {
  const out = [`// variant ${salt}`];
  // whole functions only, so every variant parses
  for (let i = 0; out.length + 4 <= lines; i++) {
    out.push(`export function add${i}(a: number, b: number): number {`, `  const sum = a + b + ${i};`, '  return sum;', '}');
  }
  return out.join('\n') + '\n';
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function fakeProvider(reply: string): Promise<{ url: string; child: ChildProcess }> {
  const words = reply.split(/(?<=\s)/);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '-e', `import('${path.join(root, 'test/fixtures/fake-provider.ts')}').then(async (m) => { const words = ${JSON.stringify(words)}; const p = await m.startFakeProvider({ tokens: words.length, tokenText: (i) => words[i] }); console.log(p.url); })`],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve({ url: d.toString().trim().split('\n')[0] ?? '', child }));
    child.once('exit', (code) => reject(new Error(`fake provider exited with ${code}`)));
  });
}

export async function governanceBench(): Promise<void> {
  const o = await startOrchestra();
  try {
    const headers = { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' };
    const validate = (content: string, file = 'snippet.ts') =>
      fetch(`${o.url}/api/validate`, { method: 'POST', headers, body: JSON.stringify({ files: [{ path: file, content }] }) }).then((r) => r.json());
    await validate(snippet(50, -1)); // loads the engines
    const status: number[] = [];
    const small: number[] = [];
    for (let i = 0; i < 120; i++) {
      status.push(await timed(() => fetch(`${o.url}/api/status`, { headers }).then((r) => r.text())));
      small.push(await timed(() => validate(snippet(50, i))));
    }
    const p50 = median(small.slice(20));
    line('validate 50-line TS snippet, warm, p50', `${p50.toFixed(1)} ms (status round trip ${median(status.slice(20)).toFixed(1)} ms)`, `${(p50 / 15).toFixed(2)}x of the 15 ms budget ${p50 < 15 ? 'PASS' : 'MISS'}`);
    const large: number[] = [];
    for (let i = 0; i < 7; i++) large.push(await timed(() => validate(snippet(2000, 1000 + i), 'large.ts')));
    const p = median(large.slice(1));
    line('validate 2,000-line TS file, p50', `${p.toFixed(0)} ms`, `${(p / 300).toFixed(2)}x of the 300 ms budget ${p < 300 ? 'PASS' : 'MISS'}`);
  } finally {
    await o.stop();
  }

  // chat:done delay: the same reply length with and without a fenced block
  const prose = 'word '.repeat(40);
  const withCode = `Here:\n\n\`\`\`ts\n${snippet(20, 7)}\`\`\`\n`;
  const plain = await fakeProvider(prose);
  const coded = await fakeProvider(withCode);
  const a = await startOrchestra({ LLM_BASE_URL: plain.url });
  const b = await startOrchestra({ LLM_BASE_URL: coded.url });
  try {
    const chat = (s: { url: string; token: string }) =>
      fetch(`${s.url}/api/chat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'hi' }),
      }).then((r) => r.json() as Promise<{ message: { durationMs: number } }>);
    await chat(b); // loads the engines
    const without: number[] = [];
    const withV: number[] = [];
    for (let i = 0; i < 60; i++) {
      without.push((await chat(a)).message.durationMs);
      withV.push((await chat(b)).message.durationMs);
    }
    const added = median(withV.slice(10)) - median(without.slice(10));
    line('chat:done delay from reply validation, p50', `${median(withV.slice(10)).toFixed(1)} vs ${median(without.slice(10)).toFixed(1)} ms without code`, `+${added.toFixed(1)} ms (target < 20 ms) ${added < 20 ? 'PASS' : 'MISS'}`);
  } finally {
    await a.stop();
    await b.stop();
    plain.child.kill();
    coded.child.kill();
  }

  // CLI on 20 staged files
  const repo = mkdtempSync(path.join(tmpdir(), 'orchestra-bench-git-'));
  execFileSync('git', ['init', '-q'], { cwd: repo });
  for (let i = 0; i < 20; i++) writeFileSync(path.join(repo, `f${i}.ts`), snippet(60, i));
  execFileSync('git', ['add', '.'], { cwd: repo });
  const bin = path.join(root, 'bin', 'orchestra.js');
  const run = (args: string[]): number => {
    const start = performance.now();
    const r = spawnSync(process.execPath, [bin, ...args], { cwd: repo, stdio: 'ignore' });
    if (r.status !== 0 && args[0] === 'validate') throw new Error(`validate exited ${r.status}`);
    return performance.now() - start;
  };
  const bare: number[] = [];
  const cli: number[] = [];
  for (let i = 0; i < 3; i++) {
    bare.push(run(['--version']));
    cli.push(run(['validate', '--staged']));
  }
  const c = median(cli);
  line('orchestra validate --staged, 20 files', `${(c / 1000).toFixed(2)} s (bare start-up ${(median(bare) / 1000).toFixed(2)} s)`, `${(c / 2500).toFixed(2)}x of the 2.5 s budget ${c < 2500 ? 'PASS' : 'MISS'}`);
}
