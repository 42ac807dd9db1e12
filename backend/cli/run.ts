/**
 * The CLI run straight from the TypeScript sources, for `npm run dev` (tsx watch restarts it on
 * every change). `orchestra` itself runs the bundle in dist/ (see bin/orchestra.js).
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
