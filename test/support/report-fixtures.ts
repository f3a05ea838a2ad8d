/**
 * Realistic index-health reports of any size, for renderer tests. Deterministic:
 * the same arguments always give the same report.
 */
import type { Finding, FindingKind, IndexHealthReport, IndexUsageRow, Severity } from '../../lambdas/core/health/report.ts';

const KINDS: ReadonlyArray<{ kind: FindingKind; severity: Severity; indexLevel: boolean; drop: boolean }> = [
  { kind: 'unused', severity: 'warning', indexLevel: true, drop: true },
  { kind: 'invalid', severity: 'critical', indexLevel: true, drop: true },
  { kind: 'duplicate', severity: 'warning', indexLevel: true, drop: true },
  { kind: 'overlapping', severity: 'info', indexLevel: true, drop: true },
  { kind: 'oversized', severity: 'info', indexLevel: true, drop: false },
  { kind: 'bloated', severity: 'warning', indexLevel: true, drop: false },
  { kind: 'fk_without_index', severity: 'warning', indexLevel: false, drop: false },
  { kind: 'stale_stats', severity: 'info', indexLevel: false, drop: false },
];

const TABLES = ['orders', 'order_items', 'customers', 'operator_messages', 'telegram_updates', 'admin_events', 'invoices'];
const COLUMNS = ['created_at', 'customer_id', 'status', 'operator_id', 'chat_id', 'updated_at', 'tenant_id'];

export interface FixtureOptions {
  database?: string;
  schema?: string;
  /** Appended to every table name, e.g. to test non-ASCII identifiers. */
  tableSuffix?: string;
  generatedAt?: Date;
  statsResetAt?: Date | null;
  historyDays?: number;
  usageRows?: number;
}

export function makeFinding(i: number, options: FixtureOptions = {}): Finding {
  const spec = KINDS[i % KINDS.length]!;
  const schema = options.schema ?? 'public';
  const table = `${TABLES[i % TABLES.length]!}${options.tableSuffix ?? ''}`;
  const column = COLUMNS[(i >> 3) % COLUMNS.length]!;
  const index = spec.indexLevel ? `idx_${table}_${column}_${i}` : null;
  const sizeBytes = spec.indexLevel ? 8_192 * (1 + ((i * 7_919) % 250_000)) : null;
  const qualified = `"${schema}"."${index ?? ''}"`;
  return {
    kind: spec.kind,
    severity: spec.severity,
    schema,
    table,
    index,
    sizeBytes,
    evidence: evidenceFor(spec.kind, table, column, i),
    suggestion: spec.drop && index !== null
      ? {
          drop: `DROP INDEX CONCURRENTLY IF EXISTS ${qualified}`,
          restore: `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${index} ON ${schema}.${table} USING btree (${column})`,
        }
      : null,
  };
}

function evidenceFor(kind: FindingKind, table: string, column: string, i: number): string {
  switch (kind) {
    case 'unused': return `0 scans across 14 days of snapshots (stats reset 41 days ago); ${i % 50} MB written to it since.`;
    case 'invalid': return 'pg_index.indisvalid is false and no CREATE INDEX is in progress: a failed concurrent build left it behind; it still costs on every write.';
    case 'duplicate': return `Same key columns (${column}), opclasses and predicate as idx_${table}_${column}_dup on the same table.`;
    case 'overlapping': return `Key columns (${column}) are a leading prefix of idx_${table}_${column}_status (${column}, status) with the same predicate.`;
    case 'oversized': return `Index is ${(i % 9) + 2}.${i % 10} times its table's size (threshold 1.5).`;
    case 'bloated': return `Estimated ${(i % 60) + 30}% bloat (about ${(i % 400) + 10} MB reclaimable) from pgstattuple-free estimate.`;
    case 'fk_without_index': return `Foreign key ${table}_${column}_fkey (${column}) has no index leading with its columns; deletes on the referenced table scan ${table}.`;
    case 'stale_stats': return `${(i % 90) + 10}% of rows modified since the last ANALYZE (${i % 30} days ago).`;
    case 'plan_regression': return `expectation "${table} by ${column}" of migration 803b93aca2d2 was usable when checked; now NOT USABLE: index idx_${table}_${column}_${i} does not exist.`;
  }
}

export function makeUsageRow(i: number, options: FixtureOptions = {}): IndexUsageRow {
  const table = `${TABLES[i % TABLES.length]!}${options.tableSuffix ?? ''}`;
  return {
    schema: options.schema ?? 'public',
    table,
    index: `idx_${table}_${COLUMNS[i % COLUMNS.length]!}_${i}`,
    idxScan: i % 5 === 0 ? 0 : 1_000_000 - i * 37,
    idxTupRead: 90_000_000 - i * 1_234,
    idxTupFetch: 80_000_000 - i * 999,
    sizeBytes: 8_192 * (1 + ((i * 104_729) % 500_000)),
  };
}

/** A report with `findings` findings of every kind, and usage tables of `usageRows` rows. */
export function makeReport(findings: number, options: FixtureOptions = {}): IndexHealthReport {
  const usage = Array.from({ length: options.usageRows ?? Math.min(findings, 200) }, (_, i) => makeUsageRow(i, options));
  return {
    generatedAt: options.generatedAt ?? new Date('2025-06-01T03:00:00Z'),
    database: options.database ?? 'appdb',
    statsResetAt: options.statsResetAt === undefined ? new Date('2025-04-21T09:30:00Z') : options.statsResetAt,
    writerOnly: true,
    historyDays: options.historyDays ?? 14,
    findings: Array.from({ length: findings }, (_, i) => makeFinding(i, options)),
    usage: [...usage].sort((a, b) => b.idxTupRead - a.idxTupRead),
    unusedBySize: usage.filter((row) => row.idxScan === 0).sort((a, b) => b.sizeBytes - a.sizeBytes),
  };
}
