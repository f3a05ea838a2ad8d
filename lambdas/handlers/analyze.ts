import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { OffpeakError } from '../core/errors.ts';
import { runAnalyze } from '../core/health/analyze.ts';
import { buildIndexHealthReport } from '../core/health/build-report.ts';
import { takeUsageSnapshot } from '../core/health/snapshot.ts';
import { openDatabase } from '../runtime/data-api.ts';
import { invocationDeadline } from '../runtime/deadline.ts';
import { MetricName } from '../runtime/env-names.ts';
import { healthOptionsFromEnv } from '../runtime/health-options.ts';
import { offpeakHandler } from '../runtime/middleware.ts';
import { logger, metrics } from '../runtime/observability.ts';
import { analyzeEventSchema } from './schemas.ts';

export interface AnalyzeHandlerResult {
  /** Tables ANALYZEd by this call, as schema.table. */
  analyzed: string[];
  /** Tables still queued for the next night (the deadline came first). */
  remaining: number;
  failed: Array<{ table: string; error: string | null }>;
  /** Indexes recorded in the usage snapshot (nightly only). */
  snapshotIndexes: number | null;
  /** INVALID indexes found (verification after a window run). */
  invalidIndexes: string[];
}

/**
 * Nightly: take the index-usage snapshot, then ANALYZE stale tables until the
 * deadline (the rest stays queued). After a window run (`verify`): also check
 * that no INVALID index is left anywhere, and fail if one is, so the run's
 * notification says so.
 */
export const handler = offpeakHandler('analyze', analyzeEventSchema, async (event, context): Promise<AnalyzeHandlerResult> => {
  const { client, ledgerSchema } = openDatabase();
  const options = healthOptionsFromEnv(ledgerSchema);
  const snapshot = event.source === 'window-run' ? null : await takeUsageSnapshot({ client, options });
  const result = await runAnalyze({ client, options, deadline: invocationDeadline(context) });
  const analyzed = result.records.filter((r) => r.outcome === 'analyzed' || r.outcome === 'still_running').map((r) => `${r.schema}.${r.table}`);
  const failed = result.records.filter((r) => r.outcome === 'failed').map((r) => ({ table: `${r.schema}.${r.table}`, error: r.error }));
  metrics.addMetric(MetricName.tablesAnalyzed, MetricUnit.Count, analyzed.length);

  let invalidIndexes: string[] = [];
  if (event.source === 'window-run') {
    const report = await buildIndexHealthReport({ client, schema: ledgerSchema, options });
    invalidIndexes = report.findings.filter((f) => f.kind === 'invalid').map((f) => `${f.schema}.${f.index ?? '?'}`);
  }
  logger.info({ message: 'analyzed', source: event.source, analyzed: analyzed.length, remaining: result.remaining, failed: failed.length, invalidIndexes });
  if (invalidIndexes.length > 0) {
    throw new OffpeakError(`verification failed: ${invalidIndexes.length} INVALID index(es) left: ${invalidIndexes.join(', ')}; drop them (DROP INDEX CONCURRENTLY) and re-run the migration`, {
      context: { invalidIndexes, runId: 'runId' in event ? event.runId : null },
    });
  }
  return { analyzed, remaining: result.remaining, failed, snapshotIndexes: snapshot?.indexes ?? null, invalidIndexes };
});
