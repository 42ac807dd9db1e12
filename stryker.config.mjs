// Mutation testing (npm run test:mutation). Stryker edits the code one small change at a time and
// runs the tests that cover it; a change no test notices "survives". It is CPU-heavy, so it runs
// one module at a time, on that module's own tests, one process at a time:
//
//   npm run test:mutation -- config        (see MODULES below; default: config)
//
// tools/mutation.mjs picks the files to mutate and the tests to run for a module.
const module = process.env.MUTATION_MODULE ?? 'config';

export const MODULES = {
  config: { mutate: ['backend/config/load.ts', 'backend/config/schema.ts'], tests: ['test/unit/config/**/*.test.ts'] },
  masking: { mutate: ['backend/config/secrets.ts', 'backend/logging/logger.ts'], tests: ['test/unit/config/**/*.test.ts', 'test/unit/logging/**/*.test.ts'] },
  auth: { mutate: ['backend/access/*.ts', 'backend/http/access.ts'], tests: ['test/unit/access/**/*.test.ts'] },
  shutdown: { mutate: ['backend/http/listen.ts'], tests: ['test/unit/http/listen.test.ts', 'test/unit/http/close.test.ts'] },
  outbox: {
    mutate: ['backend/data/outbox.ts', 'backend/data/replicator.ts'],
    tests: ['test/unit/data/outbox.test.ts', 'test/integration/postgres/replicator-passes.test.ts'],
    globalSetup: ['test/fixtures/services/postgres-global.ts'],
  },
  invalidation: { mutate: ['backend/cache/invalidation.ts', 'backend/cache/generations.ts'], tests: ['test/unit/cache/invalidation.test.ts'] },
};

const chosen = MODULES[module];
if (chosen === undefined) throw new Error(`unknown mutation module "${module}"; one of ${Object.keys(MODULES).join(', ')}`);
// MUTATION_ONLY_TESTS (a JSON list of globs) runs the module against other tests than its own, for
// example the ones it had before new tests were added, to measure the difference.
process.env.MUTATION_TESTS = process.env.MUTATION_ONLY_TESTS ?? JSON.stringify(chosen.tests);
process.env.MUTATION_GLOBAL_SETUP = JSON.stringify(chosen.globalSetup ?? []);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: chosen.mutate,
  coverageAnalysis: 'perTest',
  // Module-level code (the schema table, constant sets) reloads every test file per mutant: hours
  // on a shared two-core machine. Those mutants are skipped and the functions are measured.
  ignoreStatic: true,
  // One test process by default; MUTATION_CONCURRENCY=2 for the slower modules on a quieter machine.
  concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 1),
  timeoutMS: 30_000,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: `reports/mutation/${module}.json` },
  thresholds: { high: 80, low: 60, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
