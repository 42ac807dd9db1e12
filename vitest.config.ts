import { defineConfig } from 'vitest/config';

// Tests run against real things (SQLite files, private PostgreSQL/Redis, real HTTP, Chromium),
// so timeouts are generous and workers are few: the CI machine has two cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
