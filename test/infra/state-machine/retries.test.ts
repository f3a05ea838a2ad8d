import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DatabaseUnavailableError, LeaseLostError, OutcomeUnknownError } from '../../../lambdas/core/errors.ts';
import { Lease } from '../../../lambdas/core/migrations/lease.ts';
import { Ledger } from '../../../lambdas/core/migrations/ledger.ts';
import { createHarness, StateName as S, type Harness } from './harness.ts';
import { indexes, table } from './scenario-migrations.ts';

vi.mock('../../../migrations/_index.ts', () => ({
  get migrations() {
    return (globalThis as Record<string, unknown>)['__offpeakScenarioMigrations'] ?? [];
  },
}));

/**
 * The synthesized window-run state machine, executed (see harness.ts): its Retry and
 * Catch paths. Each scenario has its own ledger and application schema in this file's
 * database, and asserts the final state, the notices sent and the ledger.
 */
let h: Harness;
beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'], now: new Date('2030-03-04T23:00:00Z') });
  h = await createHarness();
});
afterAll(async () => {
  vi.useRealTimers();
  await h?.dispose();
});


describe('window run, executed: retries and notices', () => {
  it('a held lease is retried, then acquired', async () => {
    await h.deploy([table('app_lease'), indexes('app_lease', 1)], 'offpeak_lease');
    await new Ledger(h.api.db.client, 'offpeak_lease').ensure();
    const other = new Lease(h.api.db.client, { owner: 'cli:alice@laptop', schema: 'offpeak_lease', ttlMs: 3_600_000 });
    await other.acquire();
    const x = await h.run({
      inject: async ({ handler, attempt }) => {
        if (handler === 'migrate' && attempt === 3) await other.release();
        return undefined;
      },
    });
    expect(x.retried.filter((r) => r.state === S.migrate).map((r) => r.error)).toEqual(['LeaseHeldError', 'LeaseHeldError']);
    expect(x.status).toBe('SUCCEEDED');
    expect(x.notices.map((n) => n.notice['kind'])).toEqual(['run_done']);
    expect(await h.applied('offpeak_lease')).toEqual(['202601010001', '202601010002']);
  });

  it('a transient DatabaseUnavailableError is retried', async () => {
    await h.deploy([table('app_unavail')], 'offpeak_unavail');
    const x = await h.run({
      // What the Data API adapter throws once its own retries are spent (Aurora still resuming).
      inject: ({ handler, attempt }) => (handler === 'migrate' && attempt === 1 ? new DatabaseUnavailableError('Data API ExecuteStatement: DatabaseResumingException: resuming') : undefined),
    });
    expect(x.retried).toEqual([{ state: S.migrate, error: 'DatabaseUnavailableError' }]);
    expect(x.status).toBe('SUCCEEDED');
    expect(x.notices.map((n) => n.notice['kind'])).toEqual(['run_done']);
    expect(await h.applied('offpeak_unavail')).toEqual(['202601010001']);
  });

  it('a lost lease or an unknown outcome (the engine stopped, resumable) is retried: the next advance resumes', async () => {
    await h.deploy([table('app_lost'), indexes('app_lost', 2)], 'offpeak_lost');
    const x = await h.run({
      inject: ({ handler, attempt }) =>
        handler !== 'migrate' ? undefined
        : attempt === 1 ? new LeaseLostError('lambda:offpeak-migrate-1', 'the migration lease was lost: taken by cli:alice')
        : attempt === 2 ? new OutcomeUnknownError('the outcome of ExecuteStatement is unknown')
        : undefined,
    });
    expect(x.retried.map((r) => r.error)).toEqual(['LeaseLostError', 'OutcomeUnknownError']);
    expect(x.status).toBe('SUCCEEDED');
    expect(x.notices.map((n) => n.notice['kind'])).toEqual(['run_done']);
    expect((await h.runs('offpeak_lost')).map((r) => r.status)).toEqual(['done']);
  });

  it('a plan that cannot run: one run_failed notice naming the state and the error, not a stack trace', async () => {
    await h.deploy([table('app_plan')], 'offpeak_plan');
    process.env['OFFPEAK_WINDOW_MINUTES'] = '0';
    try {
      const x = await h.run();
      expect(x.status).toBe('SUCCEEDED');
      expect(x.caught).toEqual([{ state: S.plan, error: 'ConfigError' }]);
      expect(x.path.at(-1)).toBe(S.failedNotified);
      expect(x.notices).toHaveLength(1);
      expect(x.notices[0]!.notice).toMatchObject({ kind: 'run_failed', step: S.plan, errorName: 'ConfigError', message: expect.stringMatching(/OFFPEAK_WINDOW_MINUTES: windowMinutes = "0" is not valid/) });
      expect(x.notices[0]!.text).not.toContain('errorType');
      expect(x.notices[0]!.text).not.toMatch(/\.ts:\d+/);
    } finally {
      process.env['OFFPEAK_WINDOW_MINUTES'] = '120';
    }
  });

  it('a notice publish failing: retried, caught, and the run still succeeds', async () => {
    await h.deploy([table('app_sns')], 'offpeak_sns');
    const x = await h.run({ snsDown: true });
    expect(x.status).toBe('SUCCEEDED');
    expect(x.path).toContain(S.doneNoticeLost);
    expect(x.path.at(-1)).toBe(S.succeeded);
    expect(x.retried.filter((r) => r.state === S.notifyDone).length).toBeGreaterThanOrEqual(1);
    expect(x.caught).toEqual([{ state: S.notifyDone, error: 'ReportPublishError' }]);
    expect(x.publishAttempts).toBeGreaterThan(1);
    expect(x.notices).toEqual([]);
    expect((await h.runs('offpeak_sns')).map((r) => r.status)).toEqual(['done']);
  });

  it('a risky plan takes one snapshot, waits for it, deletes expired offpeak-* snapshots, then runs', async () => {
    await h.deploy([table('app_risky'), indexes('app_risky', 1, { risk: 'high' })], 'offpeak_risky');
    const day = 86_400_000;
    h.snapshots.statuses = ['creating', 'creating', 'available'];
    h.snapshots.existing = [
      { DbClusterSnapshotIdentifier: 'offpeak-expired', SnapshotCreateTime: new Date(Date.now() - 30 * day).toISOString() },
      { DbClusterSnapshotIdentifier: 'offpeak-recent', SnapshotCreateTime: new Date(Date.now() - 2 * day).toISOString() },
      { DbClusterSnapshotIdentifier: 'manual-before-upgrade', SnapshotCreateTime: new Date(Date.now() - 90 * day).toISOString() },
    ];
    const x = await h.run();
    expect(x.status).toBe('SUCCEEDED');
    expect(h.snapshots.created).toHaveLength(1);
    expect(h.snapshots.created[0]).toMatch(/^offpeak-[0-9a-f-]{36}$/);
    expect(x.path.filter((s) => s === S.waitForSnapshot)).toHaveLength(3);
    expect(h.snapshots.deleted).toEqual(['offpeak-expired']);
    expect(x.path.indexOf(S.startRun)).toBeGreaterThan(x.path.indexOf(S.deleteOldSnapshots));
    expect(x.notices.map((n) => n.notice['kind'])).toEqual(['run_done']);
    expect(await h.applied('offpeak_risky')).toEqual(['202601010001', '202601010002']);
  });
});
