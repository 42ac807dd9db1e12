import { rmSync } from 'node:fs';
import { io as connect, type Socket } from 'socket.io-client';
import { loadConfig, type ConfigFlags, type ConfigSource } from '../../../backend/config/load.js';
import type { ConfigKey } from '../../../backend/config/schema.js';
import { startServer, type RunningServer } from '../../../backend/server.js';
import { startFakeProvider, type FakeProvider } from '../../fixtures/fake-provider.js';
import { PATIENCE_MS } from '../../fixtures/patience.js';
import { tempDir } from '../../fixtures/test-server.js';

/**
 * Servers started the way `orchestra serve` starts them: config loaded from a data directory
 * (config.yaml, .env), an environment and flags, with the loader's sources passed on, so the
 * settings API sees real sources. Everything started here is closed by `cleanup()`.
 */
export interface SettingsServer {
  server: RunningServer;
  dataDir: string;
  logs: string[];
  api(pathname: string, init?: RequestInit & { token?: string | false; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export interface StartSettingsServer {
  dataDir?: string;
  env?: Record<string, string>;
  flags?: ConfigFlags;
  overrides?: Partial<Record<ConfigKey, unknown>>;
  /** Sources to report instead of the loader's, for keys no flag can set. */
  sources?: Record<string, ConfigSource>;
}

export function settingsHarness() {
  const servers: SettingsServer[] = [];
  const providers: FakeProvider[] = [];
  const dirs: string[] = [];
  const sockets: Socket[] = [];
  return {
    dir(): string {
      const d = tempDir('orchestra-settings-');
      dirs.push(d);
      return d;
    },
    async provider(): Promise<FakeProvider> {
      const p = await startFakeProvider({ tokens: 3 });
      providers.push(p);
      return p;
    },
    async start(options: StartSettingsServer = {}): Promise<SettingsServer> {
      const dataDir = options.dataDir ?? this.dir();
      const logs: string[] = [];
      const loaded = loadConfig({
        env: options.env ?? {},
        cwd: dataDir,
        flags: options.flags ?? {},
        overrides: { dataDir, apiPort: 0, logFormat: 'json', logLevel: 'info', logToFile: false, ...options.overrides },
      });
      const server = await startServer(loaded.config, {
        probeTargets: [],
        logStream: { write: (line: string) => logs.push(line) },
        sources: { ...loaded.sources, ...options.sources },
      });
      let closed = false;
      const s: SettingsServer = {
        server,
        dataDir,
        logs,
        api(pathname, init = {}) {
          const { token = server.token, json, ...rest } = init;
          const headers = new Headers(rest.headers);
          if (token !== false) headers.set('Authorization', `Bearer ${token}`);
          if (json !== undefined) headers.set('Content-Type', 'application/json');
          return fetch(`${server.url}${pathname}`, { ...rest, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
        },
        async close() {
          if (closed) return;
          closed = true;
          await server.close();
        },
      };
      servers.push(s);
      return s;
    },
    socket(url: string, token: string, origin: string): Socket {
      const c = connect(url, {
        path: '/ws',
        transports: ['websocket'],
        auth: { token },
        extraHeaders: { Origin: origin },
        reconnection: false,
        // A liveness bound on the handshake: a loaded machine can take seconds.
        timeout: PATIENCE_MS,
      });
      sockets.push(c);
      return c;
    },
    async cleanup(): Promise<void> {
      for (const c of sockets.splice(0)) c.disconnect();
      for (const s of servers.splice(0)) await s.close();
      for (const p of providers.splice(0)) await p.close();
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** Resolves 'connected', or the refusal's code or message. */
export function handshake(c: Socket): Promise<string> {
  return new Promise((resolve) => {
    c.once('connect', () => resolve('connected'));
    c.once('connect_error', (err: Error & { data?: { code?: string } }) => resolve(err.data?.code ?? err.message));
  });
}
