// `npm run dev`: the backend from its TypeScript sources, restarted on every change (tsx watch),
// and the renderer from Vite's dev server with hot reload, which forwards /api, /pair and /ws to
// that backend. One command, one Ctrl-C. Arguments go to `orchestra serve`:
//
//   npm run dev                      backend on :8000, UI on http://127.0.0.1:5173
//   npm run dev -- --port 9000       backend on :9000 (the UI follows it)
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const { values } = parseArgs({ args, options: { port: { type: 'string' } }, strict: false });
const port = typeof values.port === 'string' ? values.port : (process.env.API_PORT ?? '8000');
const backendUrl = `http://127.0.0.1:${port}`;

const children = [];
let stopping = false;

function start(name, command, commandArgs, env) {
  const child = spawn(process.execPath, [command, ...commandArgs], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `[${name}] `;
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.on('data', (chunk) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) (stream === child.stdout ? process.stdout : process.stderr).write(`${prefix}${line}\n`);
    });
  }
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`${prefix}exited (${signal ?? code}); stopping the other process\n`);
      stop(code ?? 1);
    }
  });
  children.push(child);
}

function stop(code) {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

start('server', path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), ['watch', '--clear-screen=false', '--exclude', 'renderer/**', 'backend/cli/run.ts', 'serve', ...args], {});
start('ui', path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), ['--config', 'renderer/vite.config.ts'], { ORCHESTRA_URL: backendUrl });
process.stderr.write(`dev: backend ${backendUrl} (restarts on change), UI with hot reload at the address Vite prints below\n`);
