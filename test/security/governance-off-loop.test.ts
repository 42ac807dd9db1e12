import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { getPriority } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { lowerOwnPriority, VALIDATION_NICE_INCREMENT } from '../../backend/governance/priority.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

/** About 225 KB of plain JavaScript: four of them make the 900 KB request of the report. */
function bigJavaScript(salt: number): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < 225 * 1024; i++) {
    const fn = `function f${salt}_${i}(a, b) {\n  var total = a + b + ${i};\n  if (total > ${i * 3}) { return total * 2; }\n  return total;\n}\n`;
    parts.push(fn);
    size += fn.length;
  }
  return parts.join('');
}

const bigRequest = (): { files: Array<{ path: string; content: string }> } => ({
  files: [0, 1, 2, 3].map((i) => ({ path: `big${i}.js`, content: bigJavaScript(i) })),
});

interface Report {
  verdict: string;
  summary: { errors: number; files: number };
  findings: Array<{ ruleId: string; path: string; severity: string; engine: string }>;
}

/** Sends a request and resolves `sent` once its whole body has been handed to the socket. */
function post(t: TestServer, body: unknown): { sent: Promise<void>; done: Promise<{ status: number; body: Report }> } {
  const payload = JSON.stringify(body);
  const url = new URL('/api/validate', t.url);
  let markSent!: () => void;
  const sent = new Promise<void>((r) => (markSent = r));
  const done = new Promise<{ status: number; body: Report }>((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Report }));
    });
    req.on('error', reject);
    req.end(payload, () => markSent());
  });
  return { sent, done };
}

/** The nice value of every thread of this process (Linux: /proc/self/task/<tid>/stat, field 19). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after the command name in parentheses, which may itself hold spaces.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('governance runs off the event loop', () => {
  it('keeps answering /healthz while a 900 KB validation is in flight', async () => {
    t = await startTestServer({ provider: false });
    const server = t;
    // Engines loaded first, so what follows measures validation, not loading.
    expect((await server.api('/api/validate', { method: 'POST', json: { code: 'const a = 1;\n', language: 'javascript' } })).status).toBe(200);

    const validation = post(server, bigRequest());
    let pending = true;
    const finished = validation.done.finally(() => {
      pending = false;
    });
    await validation.sent;
    // Probes one after another for as long as the validation is pending: on a blocked event loop
    // none of them is answered until the validation is over.
    let answeredWhilePending = 0;
    while (pending && answeredWhilePending < 10) {
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).toBe(200);
      await res.text();
      if (pending) answeredWhilePending++;
    }
    expect(answeredWhilePending).toBe(10);
    expect(pending).toBe(true);
    const { status, body } = await finished;
    expect(status).toBe(200);
    expect(['pass', 'fail', 'error']).toContain(body.verdict);
  });

  it('a validation that runs out of time answers verdict error with governance-timeout, and the pool carries on', async () => {
    t = await startTestServer({ provider: false, overrides: { governanceTimeoutMs: 1500 } });
    const server = t;
    expect((await server.api('/api/validate', { method: 'POST', json: { code: 'const a = 1;\n', language: 'javascript' } })).status).toBe(200);

    const { status, body } = await post(server, bigRequest()).done;
    expect(status).toBe(200);
    expect(body.verdict).toBe('error');
    const timeouts = body.findings.filter((f) => f.ruleId === 'governance-timeout');
    expect(timeouts.map((f) => f.path).sort()).toEqual(['big0.js', 'big1.js', 'big2.js', 'big3.js']);
    expect(timeouts.every((f) => f.severity === 'error' && f.engine === 'governance')).toBe(true);
    expect(body.summary.errors).toBe(4);

    // The worker that timed out was replaced: later validations get real verdicts again (the
    // first ones may still wait for the new worker's engines to load).
    let verdict = 'error';
    for (let attempt = 0; attempt < 30 && verdict === 'error'; attempt++) {
      const res = await server.api('/api/validate', { method: 'POST', json: { code: 'const x = 1;\neval(x);\n', language: 'javascript' } });
      verdict = ((await res.json()) as Report).verdict;
    }
    expect(verdict).toBe('fail');
  });

  it('validates at a lower CPU priority than the event loop, in the worker thread only', async () => {
    const base = getPriority(0);
    const lowered = Math.min(19, base + VALIDATION_NICE_INCREMENT);
    expect(threadNices().filter((n) => n === lowered)).toEqual([]);
    t = await startTestServer({ provider: false });
    // The first validation waits for the worker's engines; the worker lowers itself right after.
    expect((await t.api('/api/validate', { method: 'POST', json: { code: 'const a = 1;\n', language: 'javascript' } })).status).toBe(200);
    const nices = threadNices();
    expect(nices.filter((n) => n === lowered)).toHaveLength(1);
    // Only that worker: the event loop (and every other thread) keeps the priority it had.
    expect(getPriority(0)).toBe(base);
    expect(nices.filter((n) => n !== lowered).every((n) => n === base)).toBe(true);
  });

  it('lowers only its own thread, and only where the nice value is per thread', () => {
    // On macOS or Windows the call would lower the whole process, the event loop with it.
    const before = getPriority(0);
    expect(lowerOwnPriority('darwin')).toBe(false);
    expect(lowerOwnPriority('win32')).toBe(false);
    expect(getPriority(0)).toBe(before);
  });
});
