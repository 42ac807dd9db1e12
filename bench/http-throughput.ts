import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { freePort, line, startOrchestra, waitForHttp } from './lib.js';

/**
 * GET /api/status against a bare node:http JSON server measured in the same run, same client,
 * same connection count. Target: at least 0.5x the bare server's requests per second.
 */
const BARE = `
const http = require('node:http');
const body = JSON.stringify({status:'ok',version:'0.1.0',uptimeSeconds:1,components:{database:{backend:'sqlite',mode:'primary',breaker:null,pendingSync:0}}});
http.createServer((req, res) => {
  res.writeHead(200, {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)});
  res.end(body);
}).listen(Number(process.argv[1]), '127.0.0.1');
`;

async function load(url: string, headers: Record<string, string>, seconds: number): Promise<number> {
  const result = await autocannon({ url, connections: 50, duration: seconds, headers, pipelining: 1 });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

export async function httpThroughput(seconds = 5): Promise<void> {
  const port = await freePort();
  const bare = spawn(process.execPath, ['-e', BARE, String(port)], { stdio: 'ignore' });
  const orchestra = await startOrchestra();
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`);
    const auth = { Authorization: `Bearer ${orchestra.token}` };
    // warm both up, then alternate so background noise hits both alike
    await load(`http://127.0.0.1:${port}/`, {}, 1);
    await load(`${orchestra.url}/api/status`, auth, 1);
    const bareRuns: number[] = [];
    const ourRuns: number[] = [];
    for (let i = 0; i < 2; i++) {
      bareRuns.push(await load(`http://127.0.0.1:${port}/`, {}, seconds));
      ourRuns.push(await load(`${orchestra.url}/api/status`, auth, seconds));
    }
    const b = Math.max(...bareRuns);
    const o = Math.max(...ourRuns);
    const ratio = o / b;
    line('GET /api/status req/s (50 conns)', `${o.toFixed(0)} vs bare node:http ${b.toFixed(0)}`, `${ratio.toFixed(2)}x (target >= 0.50x) ${ratio >= 0.5 ? 'PASS' : 'MISS'}`);

    // A named token is looked up by its SHA-256 in the access cache: the hot path's cost over the
    // owner token's constant-time compare, measured alternately against it.
    const created = await fetch(`${orchestra.url}/api/tokens`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'bench', scope: 'user' }),
    });
    const named = { Authorization: `Bearer ${((await created.json()) as { token: string }).token}` };
    await load(`${orchestra.url}/api/status`, named, 1);
    const ownerRuns: number[] = [];
    const namedRuns: number[] = [];
    for (let i = 0; i < 2; i++) {
      ownerRuns.push(await load(`${orchestra.url}/api/status`, auth, seconds));
      namedRuns.push(await load(`${orchestra.url}/api/status`, named, seconds));
    }
    const ow = Math.max(...ownerRuns);
    const nm = Math.max(...namedRuns);
    const namedRatio = nm / ow;
    line(
      'GET /api/status req/s with a named token',
      `${nm.toFixed(0)} vs owner token ${ow.toFixed(0)}`,
      `${namedRatio.toFixed(2)}x (target >= 0.90x) ${namedRatio >= 0.9 ? 'PASS' : 'MISS'}`,
    );
  } finally {
    bare.kill();
    await orchestra.stop();
  }
}
