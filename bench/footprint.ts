import { spawn } from 'node:child_process';
import { freePort, line, median, rssOf, startOrchestra, waitForHttp } from './lib.js';

/**
 * Start-up time (spawn to the first 200 from /healthz) and idle RSS, next to a bare node:http
 * server started the same way. Targets: ready in under 700 ms, idle RSS under 120 MB.
 */
export async function footprint(): Promise<void> {
  const bareStarts: number[] = [];
  const bareRss: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const t0 = performance.now();
    const bare = spawn(process.execPath, ['-e', `require('node:http').createServer((q,s)=>s.end('ok')).listen(${port},'127.0.0.1')`], { stdio: 'ignore' });
    await waitForHttp(`http://127.0.0.1:${port}/`);
    bareStarts.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 1000));
    if (bare.pid !== undefined) bareRss.push(rssOf(bare.pid));
    bare.kill();
  }
  const starts: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < 3; i++) {
    const o = await startOrchestra();
    starts.push(o.startMs);
    await fetch(`${o.url}/api/status`, { headers: { authorization: `Bearer ${o.token}` } });
    await new Promise((r) => setTimeout(r, 2000));
    if (o.child.pid !== undefined) rss.push(rssOf(o.child.pid));
    await o.stop();
  }
  const s = median(starts);
  const b = median(bareStarts);
  line('start to ready (spawn -> /healthz 200)', `${s.toFixed(0)} ms vs bare node ${b.toFixed(0)} ms`, `${(s / b).toFixed(2)}x; target < 700 ms ${s < 700 ? 'PASS' : 'MISS'}`);
  const r = median(rss) / 1024 / 1024;
  const br = median(bareRss) / 1024 / 1024;
  line('idle RSS', `${r.toFixed(1)} MB vs bare node ${br.toFixed(1)} MB`, `${(r / br).toFixed(2)}x; target < 120 MB ${r < 120 ? 'PASS' : 'MISS'}`);
}
