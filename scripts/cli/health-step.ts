import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import type { StartContext } from './commands/start.ts';
import { renderReport } from './commands/report.ts';
import { runAnalyze } from '../../lambdas/core/health/analyze.ts';
import { buildIndexHealthReport } from '../../lambdas/core/health/build-report.ts';
import { takeUsageSnapshot } from '../../lambdas/core/health/snapshot.ts';

/** How long `npm start` may spend on ANALYZE before leaving the rest queued for the next run. */
const START_ANALYZE_MS = 5 * 60_000;

/**
 * The nightly health job as the last step of `npm start`: snapshot the usage counters, ANALYZE what is stale
 * (within a deadline), then the report: findings by kind here, the full text (usage and unused tables) in the
 * report file, and here too with --verbose.
 */
export async function runHealthStep({ client, out, json, verbose, reportFile }: StartContext): Promise<void> {
  const snapshot = await takeUsageSnapshot({ client });
  const analyze = await runAnalyze({ client, deadline: new Date(Date.now() + START_ANALYZE_MS) });
  const report = await buildIndexHealthReport({ client });
  const text = renderReport(report, 'text');
  mkdirSync(dirname(reportFile), { recursive: true });
  writeFileSync(reportFile, text.endsWith('\n') ? text : `${text}\n`);
  const byKind = new Map<string, number>();
  for (const f of report.findings) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
  out.line(`health: ${snapshot.indexes} index usage counters recorded; ${analyze.records.length} stale table(s) analyzed${analyze.remaining ? `, ${analyze.remaining} left for the next run` : ''}`);
  out.line(`findings: ${report.findings.length}${byKind.size ? ` (${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`);
  out.line(`full report (usage and unused-index tables): ${relative(dirname(dirname(reportFile)), reportFile)}${verbose ? '' : '; --verbose prints it here, `offpeak report` rebuilds it'}`);
  json['health'] = { snapshot: { indexes: snapshot.indexes }, analyzed: analyze.records.length, reportFile, report: JSON.parse(renderReport(report, 'json')) };
  if (verbose) {
    out.line();
    for (const line of text.trimEnd().split('\n')) out.line(line);
  }
}
