import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { buildIndexHealthReport } from '../core/health/build-report.ts';
import type { FindingKind } from '../core/health/report.ts';
import { topicArn } from '../runtime/config.ts';
import { openDatabase } from '../runtime/data-api.ts';
import { FINDING_KIND_DIMENSION, MetricName } from '../runtime/env-names.ts';
import { healthOptionsFromEnv } from '../runtime/health-options.ts';
import { offpeakHandler } from '../runtime/middleware.ts';
import { logger, metrics } from '../runtime/observability.ts';
import { snsClient } from '../runtime/sns-client.ts';
import { createSnsReportPublisher } from '../runtime/sns-report-publisher.ts';
import { indexReportEventSchema } from './schemas.ts';

export interface IndexReportResult {
  messageId: string;
  database: string;
  findings: number;
  byKind: Partial<Record<FindingKind, number>>;
}

/** Builds the nightly index-health report and publishes it once to the alerts topic. */
export const handler = offpeakHandler('index-report', indexReportEventSchema, async (): Promise<IndexReportResult> => {
  const { client, ledgerSchema } = openDatabase();
  const publisher = createSnsReportPublisher({ sns: snsClient, topicArn: topicArn() });
  const report = await buildIndexHealthReport({ client, schema: ledgerSchema, options: healthOptionsFromEnv(ledgerSchema) });
  const byKind: Partial<Record<FindingKind, number>> = {};
  for (const f of report.findings) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  const { messageId } = await publisher.publish(report);
  metrics.addMetric(MetricName.reportsPublished, MetricUnit.Count, 1);

  // One metric per kind, dimensioned by kind, for the dashboard's findings graph.
  for (const [kind, count] of Object.entries(byKind)) {
    const single = metrics.singleMetric();
    single.addDimension(FINDING_KIND_DIMENSION, kind);
    single.addMetric(MetricName.findings, MetricUnit.Count, count);
  }
  logger.info({ message: 'report_published', messageId, findings: report.findings.length, byKind });
  return { messageId, database: report.database, findings: report.findings.length, byKind };
});
