/**
 * The desktop package, built the way `npm run dist:dir` builds it (tools/desktop/dist.mjs) but
 * around a stand-in Electron distribution (an executable named `electron`, a `version` file and
 * the licence files): the real binary cannot be downloaded here and is needed only to run the app.
 * The test then reads app.asar as Electron would and starts the packed backend from those files
 * alone, with Node, playing the utility process's parent port (test/fixtures/parent-port-shim.cjs).
 *
 * It reuses the dist/ that `npm test` builds first, and packs once for the whole file.
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import asar from '@electron/asar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../fixtures/fake-provider.js';
import { PATIENCE_MS } from '../fixtures/patience.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const MiB = 1024 * 1024;

/** The payload budget from the packaging issue: app.asar plus app.asar.unpacked. */
const PAYLOAD_LIMIT = 60 * MiB;

function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? directoryBytes(p) : statSync(p).size;
  }
  return total;
}

/** The packages a path inside the archive belongs to (`/node_modules/@scope/name/…` → `@scope/name`). */
function packagesIn(files: string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    const parts = file.split('/').filter(Boolean);
    for (let i = 0; i < parts.length - 1; i++) {
      if (parts[i] !== 'node_modules') continue;
      const name = parts[i + 1]?.startsWith('@') ? `${parts[i + 1]}/${parts[i + 2]}` : parts[i + 1];
      if (name !== undefined && !name.endsWith('/undefined')) names.add(name);
    }
  }
  return names;
}

let work: string;
let resources: string;
let extracted: string;
let asarFiles: string[];

beforeAll(async () => {
  for (const built of ['dist/main/index.js', 'dist/preload/index.cjs', 'dist/renderer/index.html', 'dist/backend/orchestra.cjs']) {
    if (!existsSync(path.join(root, built))) throw new Error(`${built} is missing: run "npm run build" (npm test builds first)`);
  }
  work = mkdtempSync(path.join(os.tmpdir(), 'orchestra-package-'));
  const electronDist = path.join(work, 'electron-dist');
  mkdirSync(electronDist);
  writeFileSync(path.join(electronDist, 'electron'), '#!/bin/sh\necho "stand-in Electron: the real binary runs the app"\nexit 1\n');
  chmodSync(path.join(electronDist, 'electron'), 0o755);
  const electronVersion = (JSON.parse(readFileSync(path.join(root, 'node_modules/electron/package.json'), 'utf8')) as { version: string }).version;
  writeFileSync(path.join(electronDist, 'version'), `${electronVersion}\n`);
  writeFileSync(path.join(electronDist, 'LICENSE'), 'stand-in licence\n');
  writeFileSync(path.join(electronDist, 'LICENSES.chromium.html'), '<!doctype html><title>stand-in</title>\n');

  await run(process.execPath, [path.join(root, 'tools/desktop/dist.mjs'), '--dir', '--work', work], {
    cwd: root,
    env: { ...process.env, ORCHESTRA_ELECTRON_DIST: electronDist, ORCHESTRA_NATIVE_ABI: 'node', CSC_IDENTITY_AUTO_DISCOVERY: 'false' },
    maxBuffer: 16 * MiB,
  });
  const appOut = path.join(work, 'release', 'linux-unpacked');
  resources = path.join(appOut, 'resources');
  asarFiles = asar.listPackage(path.join(resources, 'app.asar'), { isPack: false });
  extracted = path.join(work, 'extracted');
  // extractAll also copies the files kept in app.asar.unpacked, so `extracted` is what the app sees.
  asar.extractAll(path.join(resources, 'app.asar'), extracted);
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the packed desktop app', () => {
  it('is an Electron app named orchestra around the local distribution, with its licences', () => {
    const appOut = path.dirname(resources);
    expect(existsSync(path.join(appOut, 'orchestra'))).toBe(true);
    expect(existsSync(path.join(appOut, 'LICENSE.electron.txt'))).toBe(true);
    expect(existsSync(path.join(appOut, 'LICENSES.chromium.html'))).toBe(true);
  });

  it('holds the main entry, the preload, the built UI, the CLI and the governance rules', () => {
    const pkg = JSON.parse(readFileSync(path.join(extracted, 'package.json'), 'utf8')) as { name: string; main: string; type?: string };
    expect(pkg.name).toBe('orchestra');
    expect(pkg.main).toBe('dist/main/index.js');
    expect(pkg.type).toBeUndefined();
    for (const file of [
      '/dist/main/index.js',
      '/dist/main/backend-entry.js',
      '/dist/preload/index.cjs',
      '/dist/renderer/index.html',
      '/dist/backend/orchestra.cjs',
      '/dist/backend/governance-worker.cjs',
      '/resources/governance/config.yaml',
    ]) {
      expect(asarFiles).toContain(file);
    }
    expect(asarFiles.some((f) => /^\/resources\/governance\/rules\/.+\.yaml$/.test(f))).toBe(true);
    expect(asarFiles.some((f) => /^\/dist\/renderer\/assets\/.+\.js$/.test(f))).toBe(true);
    // Sources, maps and tests stay out.
    expect(asarFiles.filter((f) => /\.(map|ts|tsx)$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(asarFiles.filter((f) => f.startsWith('/test/') || f.startsWith('/backend/') || f.startsWith('/main/'))).toEqual([]);
  });

  it('ships no development dependency, and keeps native addons outside the archive', () => {
    const rootPkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const shipped = packagesIn(asarFiles);
    expect([...shipped].filter((name) => name in rootPkg.devDependencies)).toEqual([]);
    expect(shipped.has('electron')).toBe(false);
    expect(shipped.has('better-sqlite3')).toBe(true);
    expect(existsSync(path.join(resources, 'app.asar.unpacked/node_modules/better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true);
    expect(existsSync(path.join(resources, 'app.asar.unpacked/resources/governance/config.yaml'))).toBe(true);
    // The lint engine ships as one-file bundles; TypeScript and the parser only as versions.
    for (const name of ['eslint', 'typescript-eslint']) expect(asarFiles).toContain(`/node_modules/${name}/index.js`);
    for (const name of ['typescript', '@typescript-eslint/parser']) expect(asarFiles).toContain(`/node_modules/${name}/package.json`);
  });

  it(`keeps the app payload (app.asar + app.asar.unpacked) within ${PAYLOAD_LIMIT / MiB} MB`, () => {
    const payload = statSync(path.join(resources, 'app.asar')).size + directoryBytes(path.join(resources, 'app.asar.unpacked'));
    expect(payload).toBeLessThanOrEqual(PAYLOAD_LIMIT);
  });

  it('keeps the CLI at dist/backend/orchestra.cjs, exporting main(argv)', async () => {
    const script = `require(${JSON.stringify(path.join(extracted, 'dist/backend/orchestra.cjs'))}).main(process.argv.slice(1)).then((c) => { process.exitCode = c; })`;
    const { stdout } = await run(process.execPath, ['-e', script, '--', '--version'], { cwd: work });
    const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
    expect(stdout.trim()).toBe(version);
  });
});

describe('the packed backend, started from the package alone', () => {
  let provider: FakeProvider;
  let backend: ChildProcess;
  let info: { url: string; token: string };
  const messages: unknown[] = [];
  let stderr = '';

  const nextMessage = (type: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: unknown): void => {
        if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type) {
          cleanup();
          resolve(m as Record<string, unknown>);
        }
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`the packed backend exited (${code}) before "${type}": ${stderr}`));
      };
      const cleanup = (): void => {
        backend.off('message', onMessage);
        backend.off('exit', onExit);
      };
      backend.on('message', onMessage);
      backend.on('exit', onExit);
    });

  const api = (route: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${info.url}${route}`, {
      ...init,
      headers: { Authorization: `Bearer ${info.token}`, 'Content-Type': 'application/json', ...(init.headers as Record<string, string> | undefined) },
    });

  beforeAll(async () => {
    provider = await startFakeProvider({ tokens: 4 });
    const dataDir = path.join(work, 'user-data');
    // No cwd in the repository and no NODE_PATH: only the package's own node_modules can resolve.
    backend = fork(path.join(extracted, 'dist/main/backend-entry.js'), [], {
      cwd: work,
      execArgv: ['--require', path.join(root, 'test/fixtures/parent-port-shim.cjs')],
      env: { PATH: process.env.PATH ?? '', HOME: work },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    backend.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    backend.on('message', (m) => messages.push(m));
    const started = nextMessage('server-started');
    backend.send({
      type: 'start',
      // The validation below checks which engines the package ships, not GOVERNANCE_TIMEOUT_MS: on a
      // busy machine its first TypeScript file (which loads the TypeScript parser) can take longer
      // than the 10 s default, so the limit here is the suite's patience.
      overrides: { dataDir, host: '127.0.0.1', apiPort: 0, logLevel: 'warn', logToFile: true, llmBaseUrl: provider.url, governanceTimeoutMs: PATIENCE_MS },
    });
    const m = await started;
    info = { url: String(m.url), token: String(m.token) };
  });

  afterAll(async () => {
    if (backend !== undefined && backend.exitCode === null) {
      const exited = new Promise((resolve) => backend.once('exit', resolve));
      backend.send({ type: 'shutdown' });
      await exited;
    }
    await provider?.close();
  });

  it('serves the built UI', async () => {
    const res = await fetch(`${info.url}/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    const script = /<script[^>]+src="([^"]+\.js)"/.exec(html)?.[1];
    expect(script).toMatch(/^\/assets\//);
    const asset = await fetch(`${info.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
  });

  it('chats with the model provider and stores the reply in SQLite', async () => {
    const res = await api('/api/chat', { method: 'POST', body: JSON.stringify({ message: 'hello from the package' }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { conversationId: string; message: { content: string; status: string } };
    expect(body.message).toMatchObject({ content: 'tok0 tok1 tok2 tok3 ', status: 'complete' });
    const conversation = (await (await api(`/api/conversations/${body.conversationId}`)).json()) as { messages: Array<{ role: string }> };
    expect(conversation.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(existsSync(path.join(work, 'user-data', 'app.db'))).toBe(true);
  });

  it('lints TypeScript through /api/validate with every engine it ships', async () => {
    const res = await api('/api/validate', {
      method: 'POST',
      body: JSON.stringify({
        files: [
          { path: 'app.ts', content: 'export function run(input: string): unknown {\n  debugger;\n  return eval(input);\n}\n' },
          { path: 'tool.py', content: 'import subprocess\nsubprocess.call(cmd, shell=True)\n' },
          { path: 'keys.ts', content: 'export const token = "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";\n' },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const report = (await res.json()) as { verdict: string; findings: Array<{ ruleId: string; engine: string; path: string; line: number }> };
    expect(report.verdict).toBe('fail');
    const found = report.findings.map((f) => `${f.engine}:${f.ruleId}@${f.path}:${f.line}`);
    expect(found).toEqual(
      expect.arrayContaining(['lint:no-debugger@app.ts:2', 'lint:no-eval@app.ts:3', 'structural:python-subprocess-shell@tool.py:2']),
    );
    expect(report.findings.some((f) => f.engine === 'secrets' && f.path === 'keys.ts')).toBe(true);
  });

  it('closes in order on the shutdown message', async () => {
    const exited = new Promise<number | null>((resolve) => backend.once('exit', resolve));
    const stopped = nextMessage('stopped');
    backend.send({ type: 'shutdown' });
    await stopped;
    expect(await exited).toBe(0);
  });
});
