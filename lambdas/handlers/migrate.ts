import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { MigrationFailedError } from '../core/errors.ts';
import type { AdvanceResult, AdvanceStatus } from '../core/migrations/runner.ts';
import { windowMinutes } from '../runtime/config.ts';
import { invocationDeadline } from '../runtime/deadline.ts';
import { MetricName } from '../runtime/env-names.ts';
import { offpeakHandler } from '../runtime/middleware.ts';
import { openMigrator } from '../runtime/migrator.ts';
import { logger, metrics } from '../runtime/observability.ts';
import { windowEndingAt } from '../runtime/window.ts';
import { migrateEventSchema } from './schemas.ts';

/** What the state machine's Choice reads: `status`, and `runId` for the next call. */
export interface MigrateResult {
  status: Exclude<AdvanceStatus, 'failed'>;
  runId: string;
  applied: string[];
  next: AdvanceResult['next'];
  position: number;
  total: number;
  skipped: AdvanceResult['skipped'];
  verification: AdvanceResult['verification'] | null;
}

/**
 * One `advance` of the window run (upgrade to every head). The first call starts
 * (or resumes) the run; later calls pass its runId. It stops before the Lambda
 * deadline or when the window closes, and throws when a migration failed, so
 * the Errors alarm fires and the state machine's catch notifies.
 */
export const handler = offpeakHandler('migrate', migrateEventSchema, async (event, context): Promise<MigrateResult> => {
  const startedAt = Date.now();
  const windowEndsAt = event.windowEndsAt ? new Date(event.windowEndsAt) : new Date(startedAt + windowMinutes() * 60_000);
  const { migrator } = openMigrator('offpeak-migrate');
  const runId = event.runId ?? (await migrator.start('up', 'heads')).runId;
  logger.appendKeys({ runId });
  const result = await migrator.advance(runId, {
    deadline: invocationDeadline(context),
    window: windowEndingAt(windowEndsAt, windowMinutes()),
  });

  metrics.addMetric(MetricName.advanceCalls, MetricUnit.Count, 1);
  metrics.addMetric(MetricName.migrationsApplied, MetricUnit.Count, result.applied.length);
  metrics.addMetric(MetricName.advanceDurationMs, MetricUnit.Milliseconds, Date.now() - startedAt);
  logger.info({ message: 'advanced', status: result.status, applied: result.applied, position: result.position, total: result.total });

  if (result.status === 'failed') {
    metrics.addMetric(MetricName.runsFailed, MetricUnit.Count, 1);
    const where = result.error?.revision ?? result.next?.revision ?? 'unknown';
    throw new MigrationFailedError(`window run ${runId} failed at ${where}: ${result.error?.message ?? 'unknown error'}`, {
      revision: where,
      step: result.error?.step ?? result.next?.step ?? -1,
      direction: 'up',
      context: { runId, sqlState: result.error?.sqlState, applied: result.applied },
    });
  }
  if (result.status === 'done') metrics.addMetric(MetricName.runsCompleted, MetricUnit.Count, 1);
  if (result.status === 'window_closed') metrics.addMetric(MetricName.runsPausedByWindow, MetricUnit.Count, 1);

  return {
    status: result.status,
    runId: result.runId,
    applied: result.applied,
    next: result.next,
    position: result.position,
    total: result.total,
    skipped: result.skipped,
    verification: result.verification ?? null,
  };
});
