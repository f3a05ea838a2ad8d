import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { runAnalyze } from '../core/health/analyze.ts';
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
  /** Indexes recorded in the usage snapshot. */
  snapshotIndexes: number;
}

/**
 * Nightly: take the index-usage snapshot (retention follows the unused window),
 * then ANALYZE stale tables until the deadline (the rest stays queued). A window
 * run verifies and ANALYZEs what it touched itself (the runner's verification),
 * so this function is the nightly job only.
 */
export const handler = offpeakHandler('analyze', analyzeEventSchema, async (_event, context): Promise<AnalyzeHandlerResult> => {
  const { client, ledgerSchema } = openDatabase();
  const options = healthOptionsFromEnv(ledgerSchema);
  const snapshot = await takeUsageSnapshot({ client, options });
  const result = await runAnalyze({ client, options, deadline: invocationDeadline(context) });
  const analyzed = result.records.filter((r) => r.outcome === 'analyzed').map((r) => `${r.schema}.${r.table}`);
  const failed = result.records.filter((r) => r.outcome === 'failed').map((r) => ({ table: `${r.schema}.${r.table}`, error: r.error }));
  metrics.addMetric(MetricName.tablesAnalyzed, MetricUnit.Count, analyzed.length);
  // The "nightly ANALYZE has not run" alarm watches this: one per completed night.
  metrics.addMetric(MetricName.nightlyAnalyzeCompleted, MetricUnit.Count, 1);
  logger.info({ message: 'analyzed', analyzed: analyzed.length, remaining: result.remaining, failed: failed.length, snapshotIndexes: snapshot.indexes });
  return { analyzed, remaining: result.remaining, failed, snapshotIndexes: snapshot.indexes };
});
