import { defineConfig } from 'vitest/config';
import { HOOK_TIMEOUT_MS, PATIENCE_MS, TEST_TIMEOUT_MS } from './test/fixtures/patience.js';

// Tests run against real things (SQLite files, private PostgreSQL/Redis, real HTTP, Chromium),
// so workers are few (the CI machine has two cores) and timeouts are liveness bounds that hold on
// a loaded machine (test/fixtures/patience.ts).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: TEST_TIMEOUT_MS,
    hookTimeout: HOOK_TIMEOUT_MS,
    // expect.poll's own default (1 s) is a speed limit: a socket that closes, a state that settles.
    expect: { poll: { timeout: PATIENCE_MS, interval: 50 } },
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // `npm test` runs with --coverage. V8 coverage of the test processes: code the tests run
    // in-process. Code that only ever runs in a spawned `orchestra` (the bundled CLI) or in
    // Electron is not measured there, so those entry points are excluded rather than counted as
    // untested; the tests that spawn them are listed in docs/testing.md.
    coverage: {
      provider: 'v8',
      include: ['backend/**/*.ts'],
      exclude: [
        // entry shims run only as child processes
        'backend/cli/run.ts',
        'backend/cli/serve.ts',
        // type-only modules
        'backend/**/types.ts',
      ],
      reporter: ['text-summary', 'json-summary', 'html'],
      reportsDirectory: 'coverage',
      reportOnFailure: true,
      // Measured on the whole suite (2026-11-30): lines 94.4%, statements 92.1%, functions 93.3%, branches 81.5%.
      thresholds: { lines: 85, statements: 85, functions: 85, branches: 80 },
    },
  },
});
