/**
 * Entry of the backend utility process (forked by main/backend-host.ts). It is the only file in
 * main/ that imports the backend, and the backend never imports main/.
 */
import { loadConfig } from '../backend/config/load.js';
import { startServer } from '../backend/server.js';
import type { BackendOverrides } from './backend-protocol.js';
import { runBackend, type ParentPortLike, type RunningBackend } from './backend-runner.js';

/** The full config for these overrides, through the backend's own schema (an invalid value throws ConfigError). */
function configFor(overrides: BackendOverrides) {
  const dataDir = typeof overrides.dataDir === 'string' ? overrides.dataDir : process.cwd();
  // config.yaml and .env are read from the data directory, so a desktop user can keep one there.
  return loadConfig({ env: process.env, cwd: dataDir, overrides });
}

async function start(overrides: BackendOverrides): Promise<RunningBackend> {
  const loaded = configFor(overrides);
  // The sources let the settings API lock what the environment fixes; the app's own preferences
  // (overrides) count as file values, which a value saved through the API replaces.
  const server = await startServer(loaded.config, { sources: loaded.sources });
  return {
    url: server.url,
    token: server.token,
    close: () => server.close(),
    // The whole config is passed: the backend compares it key by key with the running one.
    reconfigure: (next) => server.reconfigure(configFor(next).config),
  };
}

const parentPort = (process as NodeJS.Process & { parentPort?: ParentPortLike }).parentPort;
if (parentPort === undefined) {
  process.stderr.write('main/backend-entry.js runs inside an Electron utility process; use `orchestra serve` to run the server headless\n');
  process.exitCode = 2;
} else {
  const runner = runBackend(parentPort, {
    start,
    exit: (code) => process.exit(code),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void runner.stop(0));
}
