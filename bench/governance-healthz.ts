import { line, percentile, startOrchestra } from './lib.js';

/**
 * Does validation stall the server? /healthz p99 while 4 requests of 900 KB of JavaScript each
 * are being validated, beside the same probe with governance idle (target < 100 ms). Before the
 * worker pool, one such request stalled /healthz for 14 s.
 */
function bigJavaScript(salt: number, bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const fn = `function f${salt}_${i}(a, b) {\n  var total = a + b + ${i};\n  if (total > ${i * 3}) { return total * 2; }\n  return total;\n}\n`;
    parts.push(fn);
    size += fn.length;
  }
  return parts.join('');
}

async function probe(url: string, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await fetch(`${url}/healthz`).then((r) => r.text());
    times.push(performance.now() - start);
  }
  return times;
}

export async function governanceHealthzBench(): Promise<void> {
  const o = await startOrchestra();
  try {
    const headers = { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' };
    const validate = (files: Array<{ path: string; content: string }>) =>
      fetch(`${o.url}/api/validate`, { method: 'POST', headers, body: JSON.stringify({ files }) }).then((r) => r.json());
    await validate([{ path: 'warm.js', content: 'const a = 1;\n' }]); // loads the engines
    const idle = await probe(o.url, 300);

    // 900 KB per request, as four files of 225 KB (the per-file limit is 256 KB).
    const requests = [0, 1, 2, 3].map((r) => [0, 1, 2, 3].map((f) => ({ path: `big${r}-${f}.js`, content: bigJavaScript(r * 4 + f, 225 * 1024) })));
    let pending = requests.length;
    const work = Promise.all(requests.map((files) => validate(files).finally(() => pending--)));
    const busy: number[] = [];
    // Probe only while all four are in flight, so every sample is taken under the full load.
    while (pending === requests.length && busy.length < 2000) busy.push(...(await probe(o.url, 10)));
    await work;

    const idleP99 = percentile(idle, 0.99);
    const busyP99 = percentile(busy, 0.99);
    line(
      '/healthz p99 while validating 4 x 900 KB',
      `${busyP99.toFixed(1)} ms over ${busy.length} probes (idle ${idleP99.toFixed(1)} ms)`,
      `${(busyP99 / 100).toFixed(2)}x of the 100 ms budget ${busyP99 < 100 ? 'PASS' : 'MISS'}`,
    );
  } finally {
    await o.stop();
  }
}
