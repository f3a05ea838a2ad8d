/**
 * Index-health reports for renderer tests, made by the producer: the real checks
 * (buildIndexHealthReport) run on a real schema with one defect of each kind
 * a schema can show (test/support/defect-schema.ts) by test/fixtures/report/write-producer-report.ts,
 * which wrote test/fixtures/report/producer-report.json in the report's JSON format.
 * test/integration/health/producer-fixture.test.ts regenerates it on both test databases
 * and fails if the committed file differs, so renderer tests only see
 * shapes the producer emits today, and stay fast (no database per renderer file).
 *
 * Shapes the producer cannot emit on a schema that builds in seconds (thousands of
 * findings, for truncation and size limits; Unicode or hostile names) are derived
 * from the real report by `replicate`, which copies its real findings and usage rows
 * under new names and changes nothing else.
 */
import { readFileSync } from 'node:fs';
import type { Finding, IndexHealthReport, IndexUsageRow } from '../../lambdas/core/health/report.ts';
import { parseReportJson } from '../../lambdas/core/render/report-json.ts';
import { PRODUCER_REPORT_FILE } from '../fixtures/report/producer-report.ts';

/**
 * The producer's report of the defect schema: 8 findings, one of each kind but plan_regression (which needs
 * a migration's recorded plan proof; see finding-kinds.test.ts for every kind) (1 critical, 6 warning,
 * 1 info), 20 days of usage history, generated at 2026-06-01 03:00 UTC. A fresh copy each call.
 */
export function producerReport(): IndexHealthReport {
  return parseReportJson(readFileSync(PRODUCER_REPORT_FILE, 'utf8'));
}

export interface ReplicateOptions {
  /** Findings wanted: the real ones are copied round-robin, copy k named `<name>_<k>` (copy 0 keeps the real names). */
  findings: number;
  /** Usage rows wanted (default: as many as the copies made), copied the same way. */
  usageRows?: number;
  /** Appended to every copied table name, e.g. non-ASCII or hostile characters. */
  tableSuffix?: string;
  /** The database name (an input of the producer: current_database()). */
  database?: string;
}

/**
 * A report of any size derived from a real one: its findings and usage rows copied under new
 * names (table and index renamed everywhere they appear, in evidence and statements too),
 * everything else (kinds, severities, sizes, sentences, statements) as the producer made it.
 */
export function replicate(real: IndexHealthReport, options: ReplicateOptions): IndexHealthReport {
  if (real.findings.length === 0) throw new Error('replicate: the real report has no findings to copy');
  const suffix = options.tableSuffix ?? '';
  // Copy k renames its index (whole name) and its table (as a whole identifier, not inside index names).
  const rename = (copy: number) => (text: string, table: string, index: string | null): string => {
    const tag = copy === 0 ? '' : `_${copy}`;
    const parts = index === null ? [text] : text.split(index);
    return parts
      .map((part) => part.replace(new RegExp(`(?<![\\w$])${escapeRegExp(table)}(?![\\w$])`, 'g'), `${table}${suffix}${tag}`))
      .join(index === null ? '' : `${index}${tag}`);
  };
  const findings: Finding[] = Array.from({ length: options.findings }, (_, i) => {
    const f = real.findings[i % real.findings.length]!;
    const name = rename(Math.floor(i / real.findings.length));
    return {
      ...f,
      table: name(f.table, f.table, f.index),
      index: f.index === null ? null : name(f.index, f.table, f.index),
      evidence: name(f.evidence, f.table, f.index),
      suggestion: f.suggestion === null ? null : {
        drop: name(f.suggestion.drop, f.table, f.index),
        restore: name(f.suggestion.restore, f.table, f.index),
        ...(f.suggestion.afterwards === undefined ? {} : { afterwards: name(f.suggestion.afterwards, f.table, f.index) }),
      },
    };
  });
  const copyRows = (rows: readonly IndexUsageRow[], n: number): IndexUsageRow[] => rows.length === 0 ? [] : Array.from({ length: n }, (_, i) => {
    const row = rows[i % rows.length]!;
    const name = rename(Math.floor(i / rows.length));
    return { ...row, table: name(row.table, row.table, row.index), index: name(row.index, row.table, row.index) };
  });
  const copies = Math.ceil(options.findings / real.findings.length);
  const usage = copyRows(real.usage, options.usageRows ?? real.usage.length * copies);
  const unused = copyRows(real.unusedBySize, options.usageRows === undefined ? real.unusedBySize.length * copies : Math.min(options.usageRows, real.unusedBySize.length * copies));
  return {
    ...real,
    ...(options.database === undefined ? {} : { database: options.database }),
    findings,
    usage: usage.sort((a, b) => b.idxTupRead - a.idxTupRead),
    unusedBySize: unused.sort((a, b) => b.sizeBytes - a.sizeBytes),
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
