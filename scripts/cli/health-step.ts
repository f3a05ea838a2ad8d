import type { StartContext } from './commands/start.ts';
import { renderReport } from './commands/report.ts';
import { runAnalyze } from '../../lambdas/core/health/analyze.ts';
import { buildIndexHealthReport } from '../../lambdas/core/health/build-report.ts';
import { takeUsageSnapshot } from '../../lambdas/core/health/snapshot.ts';

/** How long `npm start` may spend on ANALYZE before leaving the rest queued for the next run. */
const START_ANALYZE_MS = 5 * 60_000;

/**
 * The nightly health job as the last step of `npm start`: snapshot the usage counters,
 * ANALYZE what is stale (within a deadline), then print the text report.
 */
export async function runHealthStep({ client, out, json }: StartContext): Promise<void> {
  const snapshot = await takeUsageSnapshot({ client });
  const analyze = await runAnalyze({ client, deadline: new Date(Date.now() + START_ANALYZE_MS) });
  const report = await buildIndexHealthReport({ client });
  out.line(`snapshot: ${snapshot.indexes} indexes recorded`);
  out.line(`analyze: ${analyze.records.length} tables analyzed${analyze.remaining ? `, ${analyze.remaining} left for the next run` : ''}`);
  out.line();
  json['health'] = { snapshot: { indexes: snapshot.indexes }, analyzed: analyze.records.length, report: JSON.parse(renderReport(report, 'json')) };
  for (const line of renderReport(report, 'text').trimEnd().split('\n')) out.line(line);
}
