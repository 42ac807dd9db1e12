import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { CliIo } from '../../../backend/cli/io.js';
import { runServe } from '../../../backend/cli/serve.js';
import type { SettingsBody } from '../../../backend/contract/settings.js';
import { waitFor } from '../../fixtures/test-server.js';
import { settingsHarness } from './harness.js';

/** `orchestra serve` passes the loader's sources on: the settings API locks what the environment sets. */
const h = settingsHarness();
afterEach(() => h.cleanup());

const TOKEN = 'settings-serve-test-token-0123456789';

describe('orchestra serve and the settings API', () => {
  it('reports config.yaml values as file and environment values as locked; SIGHUP keeps stored values', async () => {
    const provider = await h.provider();
    const dir = h.dir();
    writeFileSync(path.join(dir, 'config.yaml'), `llmBaseUrl: ${provider.url}\n`);
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const handlers = new Map<string, () => void>();
    const io: CliIo = {
      stdout: new PassThrough(),
      stderr,
      cwd: dir,
      env: { DATA_DIR: dir, API_TOKEN: TOKEN, LLM_MODEL: 'env-model', LOG_TO_FILE: 'false', LOG_LEVEL: 'warn' },
      onSignal: (signal, handler) => void handlers.set(signal, handler),
    };
    const exit = runServe(['--port', '0'], io);
    const url = await waitFor(() => /(http:\/\/127\.0\.0\.1:\d+)/.exec(err)?.[1], 'the banner');
    const api = (init: RequestInit = {}): Promise<Response> =>
      fetch(`${url}/api/settings`, { ...init, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' } });

    const settings = ((await (await api()).json()) as SettingsBody).settings;
    expect(settings.llmBaseUrl).toEqual({ value: provider.url, source: 'file', locked: false });
    expect(settings.llmModel).toEqual({ value: 'env-model', source: 'env', locked: true });
    expect((await api({ method: 'PATCH', body: JSON.stringify({ llmModel: 'x' }) })).status).toBe(409);
    expect((await api({ method: 'PATCH', body: JSON.stringify({ corsOrigins: 'https://kept.example' }) })).status).toBe(200);

    handlers.get('SIGHUP')?.();
    await waitFor(() => err.includes('configuration reloaded'), 'the SIGHUP reload');
    const after = ((await (await api()).json()) as SettingsBody).settings;
    expect(after.corsOrigins).toEqual({ value: ['https://kept.example'], source: 'stored', locked: false });

    handlers.get('SIGINT')?.();
    expect(await exit).toBe(0);
  });
});
