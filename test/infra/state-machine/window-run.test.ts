import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { createHarness, StateName as S, type Harness } from './harness.ts';
import { indexes, table, uniqueCodes } from './scenario-migrations.ts';

vi.mock('../../../migrations/_index.ts', () => ({
  get migrations() {
    return (globalThis as Record<string, unknown>)['__offpeakScenarioMigrations'] ?? [];
  },
}));

/**
 * The synthesized window-run state machine, executed (see harness.ts). Each scenario
 * has its own ledger schema and application schema in this file's database, and
 * asserts the final state, the notices sent and the ledger.
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


describe('window run, executed', () => {
  it('nothing pending: plans, succeeds at "Nothing pending", sends nothing', async () => {
    await h.deploy([], 'offpeak_nothing');
    const x = await h.run();
    expect(x.status).toBe('SUCCEEDED');
    expect(x.path).toEqual([S.plan, S.anythingPending, S.nothingPending]);
    expect(x.notices).toEqual([]);
    expect(x.calls.migrate).toBe(0);
  });

  it('done in one advance: one run_done notice naming what the run applied; an INVALID index elsewhere does not fail it', async () => {
    // Prepare: an INVALID index left by someone else, outside anything the run touches.
    await h.api.db.client.query(sql`CREATE TABLE public.other (code text)`);
    await h.api.db.client.query(sql`INSERT INTO public.other VALUES ('a'), ('a')`);
    await expect(h.api.db.client.query(sql`CREATE UNIQUE INDEX CONCURRENTLY idx_other_code ON public.other (code)`)).rejects.toThrow();
    await h.deploy([table('app_one'), indexes('app_one', 2)], 'offpeak_one');

    const x = await h.run();

    expect(x.status).toBe('SUCCEEDED');
    expect(x.path.filter((s) => s === S.migrate)).toHaveLength(1);
    expect(x.path.at(-1)).toBe(S.succeeded);
    expect(x.notices).toHaveLength(1);
    const notice = x.notices[0]!;
    expect(notice.notice).toMatchObject({ kind: 'run_done', remaining: [] });
    expect((notice.notice['applied'] as Array<{ revision: string }>).map((a) => a.revision)).toEqual(['202601010001', '202601010002']);
    expect((notice.notice['verification'] as { problems: string[]; checkedIndexes: string[] }).problems).toEqual([]);
    expect(notice.subject).toMatch(/window run done, 2 migration\(s\) applied/);
    expect(notice.text).toContain('202601010002  index orders (2)');
    expect(await h.applied('offpeak_one')).toEqual(['202601010001', '202601010002']);
    expect((await h.runs('offpeak_one')).map((r) => r.status)).toEqual(['done']);
  });

  it('in_progress across several advances: loops Advance → Pause until done, one run, one notice', async () => {
    await h.deploy([table('app_loop'), indexes('app_loop', 6)], 'offpeak_loop');
    // Budgets that leave the runner a few Data API calls each (the fake clock moves 1 s per call).
    const x = await h.run({ migrateBudgetMs: (attempt) => (attempt < 4 ? 75_000 + 15_000 + 5_000 : 900_000) });
    expect(x.status).toBe('SUCCEEDED');
    expect(x.calls.migrate).toBeGreaterThanOrEqual(3);
    expect(x.path.filter((s) => s === S.pause).length).toBe(x.calls.migrate - 1);
    expect(x.notices.map((n) => n.notice['kind'])).toEqual(['run_done']);
    expect((await h.runs('offpeak_loop')).map((r) => r.status)).toEqual(['done']);
    expect(await h.applied('offpeak_loop')).toEqual(['202601010001', '202601010002']);
  });

  it('the window closes mid-run: a window_closed notice with what remains; the next window resumes the same run', async () => {
    await h.deploy([table('app_win'), indexes('app_win', 6)], 'offpeak_win');
    // First window: the first advance runs out of Lambda time; then the window's end passes.
    const first = await h.run({
      migrateBudgetMs: () => 75_000 + 15_000 + 12_000,
      afterMigrate: () => {
        vi.setSystemTime(Date.now() + 3 * 3_600_000);
      },
    });
    expect(first.status).toBe('SUCCEEDED');
    expect(first.path.at(-1)).toBe(S.pausedUntilNextWindow);
    expect(first.notices.map((n) => n.notice['kind'])).toEqual(['window_closed']);
    const closed = first.notices[0]!.notice as { position: number; total: number; remaining: string[]; commands: { resume: string } };
    expect(closed.position).toBeGreaterThan(0);
    expect(closed.position).toBeLessThan(closed.total);
    expect(closed.remaining).toContain('202601010002');
    expect(closed.commands.resume).toMatch(/^aws stepfunctions start-execution --state-machine-arn arn:aws:states:/);
    const [paused] = await h.runs('offpeak_win');
    expect(paused!.status).toBe('window_closed');

    // Next window: the plan sees the unfinished run, migrate resumes it, and it finishes.
    const second = await h.run();
    expect(second.status).toBe('SUCCEEDED');
    expect(second.notices.map((n) => n.notice['kind'])).toEqual(['run_done']);
    expect(second.notices[0]!.notice['runId']).toBe(paused!.run_id);
    // The run_done notice names every revision of the run, also those applied in the first window.
    expect((second.notices[0]!.notice['applied'] as Array<{ revision: string }>).map((a) => a.revision)).toEqual(['202601010001', '202601010002']);
    expect((await h.runs('offpeak_win')).map((r) => r.status)).toEqual(['done']);
  });

  it('a resumed run finishing while newer migrations are pending leaves nothing for the next window', async () => {
    const ns = 'app_more';
    await h.deploy([table(ns), indexes(ns, 6)], 'offpeak_more');
    const first = await h.run({ migrateBudgetMs: () => 75_000 + 15_000 + 12_000, afterMigrate: () => void vi.setSystemTime(Date.now() + 3 * 3_600_000) });
    expect(first.notices.map((n) => n.notice['kind'])).toEqual(['window_closed']);

    // A deploy between the windows adds a newer migration; the next window resumes the old run first.
    await h.deploy([table(ns), indexes(ns, 6), indexes(ns, 1, { revision: '202601010003', down: '202601010002' })], 'offpeak_more');
    const second = await h.run();

    // Nothing is left for the next window: the resumed run re-plans to the new heads and applies the
    // newer migration itself, so one run, one run_done notice (no second run in the window is needed).
    expect(second.status).toBe('SUCCEEDED');
    expect(second.path.at(-1)).toBe(S.succeeded);
    expect(second.notices.map((n) => n.notice['kind'])).toEqual(['run_done']);
    const done = second.notices[0]!.notice;
    expect((done['applied'] as Array<{ revision: string }>).map((a) => a.revision)).toEqual(['202601010001', '202601010002', '202601010003']);
    expect(done['remaining']).toEqual([]);
    expect(second.notices[0]!.text).toContain('Remaining:\n  nothing pending');
    expect(await h.applied('offpeak_more')).toEqual(['202601010001', '202601010002', '202601010003']);
    expect((await h.runs('offpeak_more')).map((r) => r.status)).toEqual(['done']);
  });

  it('migrations deployed between two advances of one window are applied by the same run', async () => {
    const ns = 'app_grow';
    await h.deploy([table(ns), indexes(ns, 6)], 'offpeak_grow');
    let grown = false;
    // Short budgets: the run is still in progress after the first advance, when a deploy adds a migration.
    const x = await h.run({
      migrateBudgetMs: (attempt) => (attempt < 3 ? 75_000 + 15_000 + 5_000 : 900_000),
      afterMigrate: async (result) => {
        if (grown || (result as { status: string }).status !== 'in_progress') return;
        grown = true;
        await h.deploy([table(ns), indexes(ns, 6), indexes(ns, 1, { revision: '202601010003', down: '202601010002' })], 'offpeak_grow');
      },
    });

    expect(grown).toBe(true);
    expect(x.status).toBe('SUCCEEDED');
    expect(x.path.at(-1)).toBe(S.succeeded);
    expect(x.notices.map((n) => n.notice['kind'])).toEqual(['run_done']);
    expect((x.notices[0]!.notice['applied'] as Array<{ revision: string }>).map((a) => a.revision)).toEqual(['202601010001', '202601010002', '202601010003']);
    expect(x.notices[0]!.notice['remaining']).toEqual([]);
    expect(await h.applied('offpeak_grow')).toEqual(['202601010001', '202601010002', '202601010003']);
    expect((await h.runs('offpeak_grow')).map((r) => r.status)).toEqual(['done']);
  });

  it('a step failing: one run_failed notice with the revision, SQLSTATE and the commands; handled, so no execution failure', async () => {
    await h.deploy([table('app_fail', { duplicateCodes: true }), uniqueCodes('app_fail')], 'offpeak_fail');
    // The handlers' Powertools metrics (the module deploy() just loaded): RunsFailed feeds the WindowRunsFailed alarm.
    const { metrics } = await import('../../../lambdas/runtime/observability.ts');
    const added = vi.spyOn(metrics, 'addMetric');
    const x = await h.run();
    const counted = (name: string) => added.mock.calls.filter(([n]) => n === name).reduce((sum, [, , v]) => sum + Number(v), 0);
    // One failure: one RunsFailed datum (the action-less alarm's state), one notice, and an execution that
    // succeeds at "Run failed (notified)", so the execution-failure alarm stays quiet.
    expect(counted('RunsFailed')).toBe(1);
    expect(counted('NoticesSent')).toBe(1);
    added.mockRestore();
    expect(x.status).toBe('SUCCEEDED');
    expect(x.path.at(-1)).toBe(S.failedNotified);
    expect(x.notices).toHaveLength(1);
    const n = x.notices[0]!.notice as Record<string, unknown>;
    expect(n).toMatchObject({ kind: 'run_failed', step: S.migrate, revision: '202601010002', migrationStep: 0, sqlState: '23505' });
    expect(x.notices[0]!.text).toContain('migration: 202601010002 step 1\n  SQLSTATE: 23505');
    expect(String(n['message'])).toMatch(/idx_orders_code_unique|could not create unique index|duplicate/i);
    expect(x.notices[0]!.text).toMatch(/To roll back instead:\n {2}offpeak invoke rollback --to -1 --function Offpeak-MigrationsRollbackFunction-Test/);
    expect(x.notices[0]!.text).not.toMatch(/\bat .*\.ts:\d+/);
    expect((await h.runs('offpeak_fail')).map((r) => r.status)).toEqual(['failed']);
    expect(await h.applied('offpeak_fail')).toEqual(['202601010001']);
  });
});
