import { testDatabaseUrl } from './database.ts';

/**
 * Tests that need something this machine may lack: a PostgreSQL server (TEST_DATABASE_URL) or the
 * pgvector extension. Locally, a missing prerequisite skips the test (the title says why). With CI
 * set, it fails instead, unless this CI pass declares the prerequisite absent by design in
 * OFFPEAK_CI_ABSENT (a comma list): .ci/run's PostgreSQL pass declares `pgvector` (Debian bookworm
 * has no pgvector package for PostgreSQL 15), its PGlite pass declares `postgresql`.
 */
export type Prerequisite = 'postgresql' | 'pgvector';

const declaredAbsent = new Set((process.env['OFFPEAK_CI_ABSENT'] ?? '').split(',').map((s) => s.trim()).filter(Boolean));

/** Exported for its own test; tests call `lacks`. */
export function lacksIn(env: { ci: boolean; absent: ReadonlySet<string> }, prerequisite: Prerequisite, available: boolean): boolean {
  if (available) return false;
  if (env.ci && !env.absent.has(prerequisite)) {
    throw new Error(
      `${prerequisite} is missing, and CI does not skip tests for a missing prerequisite: ` +
        (prerequisite === 'postgresql' ? 'set TEST_DATABASE_URL' : 'use a server with pgvector') +
        `, or declare it absent for this pass with OFFPEAK_CI_ABSENT=${prerequisite} (as .ci/run does for the pass that cannot have it)`,
    );
  }
  return true;
}

/**
 * True when the test must be skipped for want of `prerequisite` (for `describe.skipIf`, `it.skipIf`,
 * `ctx.skip()`); throws in CI when the prerequisite is missing and not declared absent. `available`
 * defaults to what this process can tell (a PostgreSQL URL); pass it for pgvector.
 */
export function lacks(prerequisite: Prerequisite, available = prerequisite === 'postgresql' ? testDatabaseUrl !== undefined : false): boolean {
  return lacksIn({ ci: Boolean(process.env['CI']), absent: declaredAbsent }, prerequisite, available);
}
