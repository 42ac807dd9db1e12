import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The suite Stryker runs for one module: only that module's tests (stryker.config.mjs passes
// them in MUTATION_TESTS), without coverage, in one worker. (mergeConfig would append to the
// include list instead of replacing it.)
const tests = JSON.parse(process.env.MUTATION_TESTS ?? '["test/unit/config/**/*.test.ts"]') as string[];
// Services started once for the whole run (test/fixtures/services/postgres-global.ts), not per mutant.
const globalSetup = JSON.parse(process.env.MUTATION_GLOBAL_SETUP ?? '[]') as string[];

export default defineConfig({ ...base, test: { ...base.test, include: tests, globalSetup, coverage: { enabled: false }, maxWorkers: 1 } });
