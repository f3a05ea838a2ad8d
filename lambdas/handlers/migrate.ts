import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { AdvanceResult } from '../core/migrations/runner.ts';
import { noticeBuild } from '../core/migrations/running-builds.ts';
import type { AppliedRevision, RunningBuild } from '../core/render/notice.ts';
import { loadGuardOptions, windowMinutes } from '../runtime/config.ts';
import { invocationDeadline } from '../runtime/deadline.ts';
import { MetricName } from '../runtime/env-names.ts';
import { offpeakHandler, RUN_EARLY_TIMEOUT_MS } from '../runtime/middleware.ts';
import { openMigrator } from '../runtime/migrator.ts';
import { logger, metrics } from '../runtime/observability.ts';
import { windowEndingAt } from '../runtime/window.ts';
import { migrateEventSchema } from './schemas.ts';

/**
 * What the state machine's Choice reads: `status`, and `runId` for the next call.
 * Statuses the engine adds later (e.g. `interrupted`) pass through; the Choice
 * loops on every status that is not done, window_closed or failed.
 */
export interface MigrateResult {
  status: Exclude<AdvanceResult['status'], 'interrupted' | 'load_critical'>;
  runId: string;
  /** Revisions this call finished. */
  applied: string[];
  next: AdvanceResult['next'];
  position: number;
  total: number;
  skipped: AdvanceResult['skipped'];
  verification: AdvanceResult['verification'] | null;
  /** When done: the plan expectations checked at the end of the run (never a failure; the notice reports them). */
  planProof: AdvanceResult['planProof'] | null;
  /** When done: every revision the run applied (across windows), with its duration. */
  runApplied: AppliedRevision[];
  /**
   * Revisions still pending: the rest of this run, or (when done) what a fresh plan still finds, which is
   * nothing unless the ledger moved under the run (each advance re-plans to the heads of its bundle).
   */
  remaining: string[];
  /** Index builds still running when the window closed, with what blocks them (when the engine reports it). */
  runningBuilds: RunningBuild[];
  /** When failed: what failed, for the notice. */
  error: AdvanceResult['error'] | null;
  /** Time the window's advance calls so far spent throttled over max-load (load guard). */
  throttledMs: number;
  /** The run stopped for the window because the database was over critical-load: why (e.g. `active=52 > 40`). */
  loadCritical: string | null;
}

/** Revisions of a stored plan, in order, without repeats. */
function planRevisions(plan: unknown, from = 0): string[] {
  const units = (plan as { units?: Array<{ revision: string }> } | null)?.units ?? [];
  return [...new Set(units.slice(from).map((u) => u.revision))];
}

/**
 * One `advance` of the window run (upgrade to every head). The first call starts
 * (or resumes) the run; later calls pass its runId. It stops before the Lambda
 * deadline or when the window closes. A failed migration is a result, not an
 * exception: the state machine sends one notice for it (an exception here would
 * also count as a Lambda error). Exceptions are for what the state machine
 * retries: a held lease, an unavailable database, a throttle.
 */
export const handler = offpeakHandler('migrate', migrateEventSchema, async (event, context, { signal }): Promise<MigrateResult> => {
  const startedAt = Date.now();
  const windowEndsAt = event.windowEndsAt ? new Date(event.windowEndsAt) : new Date(startedAt + windowMinutes() * 60_000);
  // A rehearsal runs on its clone with no window and no load guard (nothing else runs there): it measures how long the plan takes.
  const rehearsal = event.rehearsalClusterArn;
  const loadGuard = rehearsal ? undefined : loadGuardOptions();
  const { migrator } = openMigrator(rehearsal ? 'offpeak-rehearsal' : 'offpeak-migrate', { ...(loadGuard ? { loadGuard } : {}), ...(rehearsal ? { resourceArn: rehearsal } : {}) });
  const runId = event.runId ?? (await migrator.start('up', 'heads')).runId;
  logger.appendKeys({ runId, ...(rehearsal ? { rehearsalCluster: rehearsal } : {}) });
  const result = await migrator.advance(runId, {
    deadline: invocationDeadline(context),
    ...(rehearsal ? {} : { window: windowEndingAt(windowEndsAt, windowMinutes()) }),
    // middy's early timeout: cancel the running statement, roll back, release the lease; resumable.
    signal,
  });

  // A rehearsal's advances are not the production runs the metrics (and their alarms) count.
  const count = rehearsal ? () => {} : (...args: Parameters<typeof metrics.addMetric>) => metrics.addMetric(...args);
  count(MetricName.advanceCalls, MetricUnit.Count, 1);
  count(MetricName.migrationsApplied, MetricUnit.Count, result.applied.length);
  count(MetricName.advanceDurationMs, MetricUnit.Milliseconds, Date.now() - startedAt);
  logger.info({ message: 'advanced', status: result.status, applied: result.applied, position: result.position, total: result.total });

  const run = await migrator.ledger.getRun(runId);
  let runApplied: AppliedRevision[] = [];
  let remaining = planRevisions(run?.plan, result.position);
  if (result.status === 'done') {
    count(MetricName.runsCompleted, MetricUnit.Count, 1);
    // What this run applied, across every window it took: the ledger rows it wrote (its plan may have
    // been re-made on resume, so the plan alone would miss what an earlier window applied).
    runApplied = (await migrator.ledger.applied())
      .filter((r) => r.runId === runId && !r.recordedOnly)
      .sort((a, b) => a.appliedAt.getTime() - b.appliedAt.getTime())
      .map((r) => ({ revision: r.revision, description: r.description, durationMs: r.durationMs }));
    remaining = [...new Set((await migrator.plan('up', 'heads')).units.map((u) => u.revision))];
  }
  if (result.status === 'window_closed') count(MetricName.runsPausedByWindow, MetricUnit.Count, 1);
  if (result.status === 'failed') count(MetricName.runsFailed, MetricUnit.Count, 1);

  return {
    // Interrupted by the early timeout: the run is resumable, and the next call resumes it. Over critical-load:
    // the run stops for this window (window_closed: its notice says why) and the next window resumes it.
    status: result.status === 'interrupted' ? 'in_progress' : result.status === 'load_critical' ? 'window_closed' : result.status,
    runId: result.runId,
    applied: result.applied,
    next: result.next,
    position: result.position,
    total: result.total,
    skipped: result.skipped,
    verification: result.verification ?? null,
    planProof: result.planProof ?? null,
    runApplied,
    remaining,
    runningBuilds: (result.runningBuilds ?? []).map(noticeBuild),
    error: result.error ?? null,
    throttledMs: (event.throttledMs ?? 0) + (result.throttledMs ?? 0),
    loadCritical: result.loadCritical?.reason ?? null,
  };
}, { timeoutEarlyInMillis: RUN_EARLY_TIMEOUT_MS });
