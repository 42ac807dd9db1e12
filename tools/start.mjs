// `npm start`: builds what is stale, then runs `orchestra serve` in this same process. One Node
// start instead of two (the staleness check and the server each paid for booting Node and its
// module loader), which on a loaded machine is a good part of the time to ready.
//
//   npm start -- --port 9000     arguments after -- go to `orchestra serve`
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { main as buildIfStale } from './build-if-stale.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const built = buildIfStale([]);
if (built !== 0) {
  process.exitCode = built;
} else {
  const bin = path.join(root, 'bin', 'orchestra.js');
  // bin/orchestra.js reads its command from argv, as if it had been started on its own.
  process.argv = [process.argv[0] ?? process.execPath, bin, 'serve', ...process.argv.slice(2)];
  await import(pathToFileURL(bin).href);
}
