import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { testDatabaseUrl } from '../../support/database.ts';
import { createHarness, StateName as S, type Harness } from './harness.ts';
import { indexes, table } from './scenario-migrations.ts';

vi.mock('../../../migrations/_index.ts', () => ({
  get migrations() {
    return (globalThis as Record<string, unknown>)['__offpeakScenarioMigrations'] ?? [];
  },
}));

/**
 * The window closes while a CREATE INDEX CONCURRENTLY waits on another session's open
 * transaction: the window_closed notice names the build and what blocks it, the build
 * is not cancelled, and the next window finishes the run. It needs a second session
 * holding a transaction open, so it runs on PostgreSQL only (PGlite has one session).
 * The local Data API server's statement limit is 1 s here, so the build outlives its
 * call (continueAfterTimeout) as a long one does on AWS after 45 s.
 */
let h: Harness;
beforeAll(async () => {
  if (!testDatabaseUrl) return;
  vi.useFakeTimers({ toFake: ['Date'], now: new Date('2030-03-04T23:00:00Z') });
  h = await createHarness({ statementTimeoutMs: 1_000 });
});
afterAll(async () => {
  vi.useRealTimers();
  await h?.dispose();
});

describe.skipIf(!testDatabaseUrl)('window run, executed: a build still running when the window closes', () => {
  it('names the build and the session it waits for, leaves it running, and the next window finishes', async () => {
    // First the table (the index migration then waits on the writer below).
    await h.deploy([table('app_build')], 'offpeak_build');
    expect((await h.run()).notices.map((n) => n.notice['kind'])).toEqual(['run_done']);

    const blocker = new pg.Client({ connectionString: h.api.db.url!, application_name: 'report-writer' });
    await blocker.connect();
    try {
      // A writer left idle in its transaction: CREATE INDEX CONCURRENTLY waits for it ("waiting for writers").
      await blocker.query('BEGIN');
      await blocker.query('INSERT INTO app_build.orders (id, customer_id, code) VALUES (1000, 1, $1)', ['w']);
      const { rows } = await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const blockerPid = rows[0]!.pid;

      await h.deploy([table('app_build'), indexes('app_build', 1)], 'offpeak_build');
      // Once the build has been sent (and has outlived its 1 s call), the window's end passes.
      const { rdsDataClient } = await import('../../../lambdas/runtime/data-api.ts');
      rdsDataClient.middlewareStack.add(
        (next) => async (args) => {
          const isBuild = /CREATE INDEX CONCURRENTLY/i.test(String((args.input as { sql?: string }).sql));
          try {
            return await next(args);
          } finally {
            if (isBuild) vi.setSystemTime(Date.now() + 3 * 3_600_000);
          }
        },
        { step: 'initialize', name: 'windowEndsAfterBuildStarts' },
      );
      const first = await h.run();

      expect(first.status).toBe('SUCCEEDED');
      expect(first.path.at(-1)).toBe(S.pausedUntilNextWindow);
      expect(first.notices.map((n) => n.notice['kind'])).toEqual(['window_closed']);
      const builds = first.notices[0]!.notice['runningBuilds'] as Array<{ index: string; blockers: Array<{ pid: number; state: string }> }>;
      expect(builds).toEqual([expect.objectContaining({ index: 'app_build.idx_orders_0', table: 'app_build.orders' })]);
      expect(builds[0]!.blockers).toEqual([expect.objectContaining({ pid: blockerPid, state: 'idle in transaction' })]);
      expect(first.notices[0]!.text).toContain('Still building:\n  app_build.idx_orders_0 on app_build.orders (waiting for');
      expect(first.notices[0]!.text).toContain(`waits for pid ${blockerPid} [idle in transaction]`);

      // The writer commits; the build finishes on its own, and the next window completes the run.
      await blocker.query('COMMIT');
      const second = await h.run();
      expect(second.notices.map((n) => n.notice['kind'])).toEqual(['run_done']);
      const { rows: valid } = await h.api.db.client.query<{ valid: boolean }>(
        sql`SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'idx_orders_0'`,
      );
      expect(valid).toEqual([{ valid: true }]);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
    }
  });
});
