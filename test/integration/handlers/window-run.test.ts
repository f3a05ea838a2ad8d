import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { migrations } from '../../../migrations/_index.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { handlerEnv, lambdaContext } from '../../unit/handlers/lambda-context.ts';

/**
 * The window run as the state machine drives it, in process: plan → migrate ×3 →
 * rollback, every Data API call through the real SDK client to the local Data API
 * server over real PostgreSQL (PGlite here, a scratch database in CI).
 */
let api: TestDataApi;
let plan: typeof import('../../../lambdas/handlers/plan.ts').handler;
let migrate: typeof import('../../../lambdas/handlers/migrate.ts').handler;
let rollback: typeof import('../../../lambdas/handlers/rollback.ts').handler;
let calls = 0;
/** The plan function's FreeLocalStorage read: CloudWatch has no datapoint here (free space unknown). */
const cloudwatch = mockClient(CloudWatchClient);

const revisions = migrations.map((m) => m.migration.revision);
const SAFETY_MS = 75_000; // INVOCATION_SAFETY_MARGIN_MS
const RUNNER_MARGIN_MS = 15_000; // the runner's default deadlineMarginMs
/** A Lambda budget that leaves the runner `n` Data API calls (each advances the fake clock 1 s). */
const budgetForCalls = (n: number) => SAFETY_MS + RUNNER_MARGIN_MS + n * 1_000;

async function validIndexes(): Promise<string[]> {
  const { rows } = await api.db.client.query<{ name: string }>(
    sql`SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'idx\\_%' AND i.indisvalid ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

/**
 * Brings the database to `target`, so that each describe sets up the state it needs instead of relying on
 * the tests before it (the file passes with --sequence.shuffle). 'fresh': the database as before any
 * migration (the baseline is irreversible, so this drops what the migrations and the ledger made);
 * 'heads': every migration applied, no unfinished run, through the same Data API as the handlers.
 */
async function bringTo(target: 'fresh' | 'heads'): Promise<void> {
  if (target === 'fresh') {
    for (const text of ['DROP SCHEMA IF EXISTS offpeak CASCADE', 'DROP SCHEMA public CASCADE', 'DROP EXTENSION IF EXISTS vector CASCADE', 'CREATE SCHEMA public']) {
      await api.db.client.query(sql`${sql.raw(text)}`);
    }
    return;
  }
  const { openMigrator } = await import('../../../lambdas/runtime/migrator.ts');
  const { migrator } = openMigrator('window-run-test-setup');
  for (const run of await migrator.runs()) await migrator.abandon(run.runId);
  if ((await migrator.status()).pending.length === 0) return;
  const result = await migrator.runToCompletion('up', 'heads');
  if (result.status !== 'done') throw new Error(`test setup: upgrading to heads ended ${result.status}: ${result.error?.message ?? ''}`);
}

beforeAll(async () => {
  api = await startTestDataApi();
  cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'free', Values: [], Timestamps: [] }] });
  Object.assign(process.env, handlerEnv(api));
  ({ handler: plan } = await import('../../../lambdas/handlers/plan.ts'));
  ({ handler: migrate } = await import('../../../lambdas/handlers/migrate.ts'));
  ({ handler: rollback } = await import('../../../lambdas/handlers/rollback.ts'));
  // Each Data API call moves the (Date-only) fake clock one second: the runner's
  // deadline checks then count calls, not wall time, whatever the machine's load.
  const { rdsDataClient } = await import('../../../lambdas/runtime/data-api.ts');
  rdsDataClient.middlewareStack.add(
    (next) => async (args) => {
      calls++;
      vi.setSystemTime(Date.now() + 1_000);
      return next(args);
    },
    { step: 'initialize', name: 'offpeakTestClock' },
  );
  vi.useFakeTimers({ toFake: ['Date'], now: new Date('2030-03-04T23:00:00Z') });
});

afterAll(async () => {
  vi.useRealTimers();
  cloudwatch.restore();
  await api?.dispose();
});

describe('plan', () => {
  beforeEach(() => bringTo('fresh'));

  it('lists every pending revision, flags the high-risk one and measures the window from the scheduled time', async () => {
    const result = await plan(
      { input: { source: 'schedule', scheduledTime: '2030-03-04T23:00:00Z' }, startedAt: '2030-03-04T23:00:07.123Z' },
      lambdaContext('offpeak-plan'),
    );
    expect(result).toMatchObject({ revisions, highestRisk: 'high', risky: true, windowEndsAt: '2030-03-05T01:00:00.000Z' });
    expect(result.pending).toBeGreaterThanOrEqual(revisions.length);
    expect(result.preflight).toMatchObject({
      freeBytes: null,
      freeBytesSource: 'free space: unknown (CloudWatch: no FreeLocalStorage datapoint for cluster offpeak-local, role WRITER, in the last 15 minutes)',
    });
  });
});

describe('migrate', () => {
  beforeEach(() => bringTo('fresh'));

  it('reports window_closed and changes nothing when the window has already ended', async () => {
    const result = await migrate({ runId: null, windowEndsAt: new Date(Date.now() - 60_000).toISOString() }, lambdaContext('offpeak-migrate'));
    expect(result).toMatchObject({ status: 'window_closed', applied: [], position: 0 });
    expect(result.next?.revision).toBe(revisions[0]);
    expect(await validIndexes()).toEqual([]);
  });

  it('finishes the run in three advance calls when the first two run out of time', async () => {
    // Prepare: the window is open for two hours of the fake clock.
    const windowEndsAt = new Date(Date.now() + 2 * 3_600_000).toISOString();

    // Act: two short invocations (the first starts the run), then one with the full 15 minutes.
    const first = await migrate({ runId: null, windowEndsAt }, lambdaContext('offpeak-migrate', budgetForCalls(25)));
    const second = await migrate({ runId: first.runId, windowEndsAt }, lambdaContext('offpeak-migrate', budgetForCalls(25)));
    const third = await migrate({ runId: second.runId, windowEndsAt }, lambdaContext('offpeak-migrate', 900_000));

    // Assess: one run, resumed where each call stopped, every revision applied once, in order.
    expect([first.status, second.status, third.status]).toEqual(['in_progress', 'in_progress', 'done']);
    expect(new Set([first.runId, second.runId, third.runId]).size).toBe(1);
    expect(first.position).toBeGreaterThan(0);
    expect(second.position).toBeGreaterThan(first.position);
    expect(third.position).toBe(third.total);
    expect([...first.applied, ...second.applied, ...third.applied]).toEqual(revisions);
    expect(third.verification?.ok).toBe(true);
    // Plan proof through the Data API (read-only transactions, PREPARE, SET LOCAL): the seed's tables are empty, so
    // each index is usable and not chosen; the vector search is skipped where pgvector is missing.
    expect(third.planProof?.checks.map((c) => [c.name, c.outcome])).toEqual([
      ['assistants of a user, newest first', 'not_chosen'],
      ['dialogs of a user by last message', 'not_chosen'],
      ['nearest knowledge chunks (cosine)', api.db.hasVector ? 'not_chosen' : 'skipped'],
    ]);
    expect((await validIndexes()).length).toBeGreaterThan(10);
    const pending = await plan({ input: {}, startedAt: new Date().toISOString() }, lambdaContext('offpeak-plan'));
    expect(pending).toMatchObject({ pending: 0, revisions: [], risky: false, highestRisk: 'none' });
  });
});

describe('rollback', () => {
  const newest = revisions[revisions.length - 1]!;
  const previous = revisions[revisions.length - 2]!;

  beforeEach(() => bringTo('heads'));

  it('shows the plan and SQL on a dry run and changes nothing', async () => {
    const before = await validIndexes();
    const callsBefore = calls;
    const result = await rollback({ target: '-1', dryRun: true }, lambdaContext('offpeak-rollback'));
    expect(result).toMatchObject({ status: 'dry_run', target: previous, current: [newest] });
    if (result.status !== 'dry_run') throw new Error('expected a dry run');
    expect(result.revert.map((r) => r.revision)).toEqual([newest]);
    expect(result.revert[0]!.rollbackPlan).toMatch(/DROP INDEX CONCURRENTLY/);
    expect(result.statements.length).toBeGreaterThan(0);
    expect(result.sql).toMatch(/DROP INDEX CONCURRENTLY IF EXISTS/);
    expect(calls).toBeGreaterThan(callsBefore);
    expect(await validIndexes()).toEqual(before);
  });

  it('refuses targets that are unknown, not behind the current revision, or unconfirmed, changing nothing', async () => {
    const before = await validIndexes();
    await expect(rollback({ target: 'nope_123' }, lambdaContext('offpeak-rollback'))).rejects.toThrow(/rollback target nope_123: unknown revision/);
    await expect(rollback({ target: newest, dryRun: true }, lambdaContext('offpeak-rollback'))).rejects.toThrow(/not behind the current revision/);
    await expect(rollback({ target: previous }, lambdaContext('offpeak-rollback'))).rejects.toThrow(/not confirmed: invoke with "dryRun": true/);
    await expect(rollback({ target: '-1', confirm: '-1' as string }, lambdaContext('offpeak-rollback'))).rejects.toBeInstanceOf(ValidationError);
    await expect(rollback({ target: '-1', confirm: revisions[0]! }, lambdaContext('offpeak-rollback'))).rejects.toThrow(
      new RegExp(`confirm "${revisions[0]}" does not match the rollback target ${previous}`),
    );
    expect(await validIndexes()).toEqual(before);
  });

  it('rolls back when confirm names the resolved target', async () => {
    const result = await rollback({ target: '-1', confirm: previous }, lambdaContext('offpeak-rollback'));
    expect(result).toMatchObject({ status: 'rolled_back', target: previous, reverted: [newest], current: [previous] });
    const dropped = migrations.at(-1)!.migration.up.flatMap((s) => (s.kind === 'create_index' ? [s.index.name] : []));
    const left = await validIndexes();
    for (const name of dropped) expect(left).not.toContain(name);
    const again = await plan({ input: {}, startedAt: new Date().toISOString() }, lambdaContext('offpeak-plan'));
    expect(again).toMatchObject({ revisions: [newest], risky: true });
  });
});
