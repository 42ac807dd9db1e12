import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startRedis, type RedisService } from '../fixtures/services/redis.js';
import { tempDir } from '../fixtures/test-server.js';
import { PATIENCE_MS } from '../fixtures/patience.js';

/**
 * 10,000 Socket.IO connect/disconnect cycles against one instance with Redis configured (so the
 * Redis adapter is in play). The server runs in a child process with --expose-gc so its heap is
 * measured alone, after full collections, and every process warning (MaxListenersExceeded among
 * them) reaches the test. The client speaks the Engine.IO v4 / Socket.IO v5 handshake over a bare
 * WebSocket (what socket.io-client does with `transports: ['websocket']`), so the client's own
 * CPU does not dominate the run on a two-core machine; the server side is the full stack.
 */

const CYCLES = 10_000;
const PARALLEL = 25;
const WARM_UP = 500;

type Message =
  | { type: 'ready'; url: string; wsUrl: string; token: string }
  | { type: 'heap'; heapUsed: number }
  | { type: 'warning'; name: string; message: string };

let redis: RedisService;
let child: ChildProcess;
let dataDir: string;
let ready: Extract<Message, { type: 'ready' }>;
const warnings: string[] = [];
const localWarnings: string[] = [];
const onLocalWarning = (w: Error): void => {
  localWarnings.push(`${w.name}: ${w.message}`);
};

function next<T extends Message['type']>(type: T): Promise<Extract<Message, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Message): void => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as Extract<Message, { type: T }>);
    };
    const onExit = (code: number | null): void => reject(new Error(`server process exited with ${code}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

beforeAll(async () => {
  redis = await startRedis();
  dataDir = tempDir();
  child = fork(path.resolve('test/fixtures/server-process.ts'), [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    env: { ...process.env, ORCHESTRA_TEST_OVERRIDES: JSON.stringify({ dataDir, redisUrl: redis.url }) },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  child.stderr?.on('data', (c: Buffer) => warnings.push(c.toString('utf8')));
  child.on('message', (m: Message) => {
    if (m.type === 'warning') warnings.push(`${m.name}: ${m.message}`);
  });
  ready = await next('ready');
  process.on('warning', onLocalWarning);
});

afterAll(async () => {
  process.off('warning', onLocalWarning);
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.send({ type: 'close' });
    await exited;
  }
  await redis.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** One connection: Engine.IO open, Socket.IO CONNECT with the token, CONNECT ack, close. */
function cycle(): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${ready.wsUrl.replace(/^http/, 'ws')}/ws/?EIO=4&transport=websocket`);
    // A liveness guard only (a handshake that never completes), not a speed limit: a loaded
    // machine may take seconds for one.
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('handshake timed out'));
    }, PATIENCE_MS);
    ws.on('message', (data: Buffer) => {
      const packet = data.toString('utf8');
      if (packet.startsWith('0{')) ws.send(`40${JSON.stringify({ token: ready.token })}`);
      else if (packet.startsWith('40{')) ws.close(1000);
      else if (packet.startsWith('44')) {
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`connect refused: ${packet}`));
      }
    });
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function run(cycles: number): Promise<void> {
  let left = cycles;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (left > 0) {
        left--;
        await cycle();
      }
    }),
  );
}

async function heap(): Promise<number> {
  const reply = next('heap');
  child.send({ type: 'heap' });
  return (await reply).heapUsed;
}

describe('Socket.IO connection churn with the Redis adapter', () => {
  // What this measures is memory and listeners, not speed (bench/ has the speed figures): on a
  // busy two-core machine the run may take several times its quiet ~15 s, so the limit is wide.
  it('10,000 connect/disconnect cycles: heap grows under 5 MB, no listener warnings', async () => {
    await run(WARM_UP);
    const before = await heap();
    const started = performance.now();
    await run(CYCLES);
    const seconds = (performance.now() - started) / 1000;
    // Server-side closes finish asynchronously: measure once the server counts no client.
    const status = async () =>
      (await (await fetch(`${ready.url}/api/status`, { headers: { Authorization: `Bearer ${ready.token}` } })).json()) as {
        components: { websocket: { clients: number }; cache: { l2: { status: string } } };
      };
    await expect.poll(async () => (await status()).components.websocket.clients, { timeout: PATIENCE_MS, interval: 200 }).toBe(0);
    const after = await heap();
    const growthMb = (after - before) / (1024 * 1024);
    console.info(`socket churn: ${CYCLES} cycles in ${seconds.toFixed(1)} s, heap ${(before / 1048576).toFixed(1)} → ${(after / 1048576).toFixed(1)} MB (${growthMb.toFixed(2)} MB)`);
    expect(growthMb).toBeLessThan(5);
    expect(warnings.filter((w) => /MaxListeners|listener/i.test(w))).toEqual([]);
    expect(localWarnings.filter((w) => /MaxListeners|listener/i.test(w))).toEqual([]);
    // Redis may have been slow under the churn (its breaker opens on command timeouts); it must be
    // back once the breaker's reset time has passed.
    await expect.poll(async () => (await status()).components.cache.l2.status, { timeout: PATIENCE_MS, interval: 250 }).toBe('up');
  });
});
