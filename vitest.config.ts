import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each integration file makes its own scratch database (or in-memory PGlite),
    // so files can run in parallel; 2 cores in CI keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
    // Generous: a timeout is no assertion, and on the 2-core CI machine with other work running a
    // seed upgrade through the CLI on PGlite takes minutes. Tests that wait for something poll for
    // it (test/support/wait.ts) with deadlines of their own; none relies on a short test timeout.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
