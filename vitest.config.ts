import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { classifyTestFiles } from './test/support/database-files.ts';

// Two projects, so CI can run the database files on both databases and the rest once (.ci/run):
// `database` holds every file that touches a database (test/support/database-files.ts derives the
// list from the files' text); `no-database` holds the others, under a guard that fails any of them
// that opens a database after all. `npm test` runs both projects, on the database the environment
// names (TEST_DATABASE_URL, else PGlite); `--project database` runs the database files only.
const { database, databaseFree } = classifyTestFiles(fileURLToPath(new URL('.', import.meta.url)));

export default defineConfig({
  test: {
    // Each integration file makes its own scratch database (or in-memory PGlite),
    // so files can run in parallel; 2 cores in CI keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
    // Generous: a timeout is no assertion, and on the 2-core CI machine with other work running a
    // seed upgrade through the CLI on PGlite takes minutes. Tests that wait for something poll for
    // it (test/support/wait.ts) with deadlines of their own; none relies on a short test timeout.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    projects: [
      { extends: true, test: { name: 'database', include: database } },
      { extends: true, test: { name: 'no-database', include: databaseFree, setupFiles: ['test/support/no-database-setup.ts'] } },
    ],
  },
});
