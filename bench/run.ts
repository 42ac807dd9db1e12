import { cacheBench } from './cache.js';
import { chatStreaming } from './chat-stream.js';
import { joinCatchUpBench, replyMemoryBench } from './chat-replies.js';
import { chatTurnsBench } from './chat-turns.js';
import { footprint } from './footprint.js';
import { gatewayBench } from './gateway.js';
import { governanceBench } from './governance.js';
import { governanceHealthzBench } from './governance-healthz.js';
import { httpThroughput } from './http-throughput.js';
import { npmStart } from './npm-start.js';
import { packageSize } from './package-size.js';
import { postgresBench } from './postgres.js';
import { uiBench } from './ui.js';
import { searchBench } from './search.js';
import { storeWritesBench } from './store-writes.js';

/**
 * `npm run bench`: every figure is printed as a ratio against a baseline measured in the same run
 * on the same machine, because absolute numbers on a shared machine mean little.
 */
const only = process.argv.slice(2);
const suites: Array<[string, () => Promise<void>]> = [
  ['http', () => httpThroughput()],
  ['chat', () => chatStreaming()],
  ['chat-turns', () => chatTurnsBench()],
  ['chat-join', () => joinCatchUpBench()],
  ['chat-memory', () => replyMemoryBench()],
  ['gateway', () => gatewayBench()],
  ['footprint', () => footprint()],
  ['start', () => npmStart()],
  ['governance', () => governanceBench()],
  ['governance-healthz', () => governanceHealthzBench()],
  ['postgres', () => postgresBench()],
  ['cache', () => cacheBench()],
  ['package', () => packageSize()],
  ['ui', () => uiBench()],
  ['search', () => searchBench()],
  ['store-writes', () => storeWritesBench()],
];

for (const [name, run] of suites) {
  if (only.length > 0 && !only.includes(name)) continue;
  try {
    await run();
  } catch (err) {
    process.stdout.write(`${name}: failed: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
