/**
 * Counts every renderer shows the same way. They include what an earlier, truncated
 * rendering omitted (`report.omitted`), so a report rebuilt from the SNS JSON body
 * still says "50,000 findings", not "412".
 */
import { SEVERITIES, type Finding, type FindingKind, type IndexHealthReport, type Severity } from '../health/report.ts';
import { formatAge, formatCount, formatTimestamp } from './format.ts';

export interface ReportSummary {
  /** All findings, including any omitted by an earlier truncated rendering. */
  total: number;
  bySeverity: Record<Severity, number>;
  /** Kinds with at least one finding, most frequent first (ties by name). */
  byKind: Array<[FindingKind, number]>;
  /** Findings already missing from `report.findings` (0 unless rebuilt from truncated JSON). */
  alreadyOmitted: number;
  usageTotal: number;
  unusedTotal: number;
}

export function summarize(report: IndexHealthReport): ReportSummary {
  const bySeverity: Record<Severity, number> = { critical: 0, warning: 0, info: 0 };
  const kinds = new Map<FindingKind, number>();
  for (const finding of report.findings) {
    bySeverity[finding.severity] += 1;
    kinds.set(finding.kind, (kinds.get(finding.kind) ?? 0) + 1);
  }
  const omitted = report.omitted;
  if (omitted) {
    for (const severity of SEVERITIES) bySeverity[severity] += omitted.bySeverity[severity] ?? 0;
    for (const [kind, n] of Object.entries(omitted.byKind) as Array<[FindingKind, number]>) {
      kinds.set(kind, (kinds.get(kind) ?? 0) + n);
    }
  }
  const byKind = [...kinds.entries()]
    .filter(([, n]) => n > 0)
    .sort(([ka, a], [kb, b]) => b - a || ka.localeCompare(kb));
  return {
    total: report.findings.length + (omitted?.findings ?? 0),
    bySeverity,
    byKind,
    alreadyOmitted: omitted?.findings ?? 0,
    usageTotal: report.usage.length + (omitted?.usageRows ?? 0),
    unusedTotal: report.unusedBySize.length + (omitted?.unusedRows ?? 0),
  };
}

/** Findings grouped most urgent first; the checks' own order is kept inside a group. */
export function bySeverity(findings: readonly Finding[]): Array<[Severity, Finding[]]> {
  return SEVERITIES.map((severity) => [severity, findings.filter((f) => f.severity === severity)] as [Severity, Finding[]])
    .filter(([, group]) => group.length > 0);
}

/** "2 unused, 1 invalid": kinds with counts, most frequent first. */
export function kindCounts(summary: ReportSummary): string[] {
  return summary.byKind.map(([kind, n]) => `${formatCount(n)} ${kind}`);
}

/** "1 critical, 8 warning": only severities that occur. */
export function severityCounts(summary: ReportSummary): string[] {
  return SEVERITIES.filter((s) => summary.bySeverity[s] > 0).map((s) => `${formatCount(summary.bySeverity[s])} ${s}`);
}

/** The writer-only caveat every channel carries, in one place so they never disagree. */
export const WRITER_ONLY_CAVEAT =
  'Usage counters come from the writer instance only: the Data API reads the writer, so scans served by ' +
  'reader instances are invisible here. Counters restart at every stats reset (failover, restart, ' +
  'pg_stat_reset), so "0 scans" means "0 since the reset", not "never used".';

/** The one sentence saying how much was cut, used at the end of every truncated rendering. */
export function cutNotice(omitted: number, total: number): string {
  return `… and ${formatCount(omitted)} more ${omitted === 1 ? 'finding' : 'findings'} not shown ` +
    `(${formatCount(total - omitted)} of ${formatCount(total)} shown; run \`offpeak report --format json\` for all).`;
}

/** Stats reset line: the reset time and how long before the report it was. */
export function statsResetText(report: IndexHealthReport): string {
  if (report.statsResetAt === null) return 'never reset';
  return `${formatTimestamp(report.statsResetAt)} (${formatAge(report.statsResetAt, report.generatedAt)} before this report)`;
}

/**
 * Snapshot history line: how far back the unused check can see, from the oldest snapshot (so a
 * report right after the first snapshot says so), and the indexes still waiting for a verdict,
 * which are not counted as findings.
 */
export function historyText(report: IndexHealthReport): string {
  const start = report.historyStartedAt ?? null;
  let text: string;
  if (report.historyDays > 0) text = `${formatCount(report.historyDays)} ${report.historyDays === 1 ? 'day' : 'days'} of usage snapshots`;
  else if (start !== null) text = `usage snapshots since ${formatTimestamp(start)} (${formatAge(start, report.generatedAt)})`;
  else text = 'no usage snapshots yet';
  const pending = report.pending;
  if (pending && pending.indexes > 0) {
    const when = pending.firstVerdictAt ? ` (first verdict on ${pending.firstVerdictAt.toISOString().slice(0, 10)})` : '';
    text += `; ${formatCount(pending.indexes)} ${pending.indexes === 1 ? 'index' : 'indexes'} without usage history yet${when}`;
  }
  return text;
}
