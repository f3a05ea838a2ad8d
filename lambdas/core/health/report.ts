/**
 * The index-health report: one model, several renderers (lambdas/core/render).
 */

/**
 * Every finding kind, in the checks' order: the one list the type, the JSON schema
 * (render/report-json.ts), the renderers, slack-notify and the dashboard derive from,
 * so a new kind is known everywhere the moment it is added here.
 */
export const FINDING_KINDS = [
  'unused',
  'oversized',
  'invalid',
  'duplicate',
  'overlapping',
  'fk_without_index',
  'bloated',
  'stale_stats',
  'plan_regression',
] as const;

export type FindingKind = (typeof FINDING_KINDS)[number];

/** Severities, most urgent first: the order findings are grouped and cut in. */
export const SEVERITIES = ['critical', 'warning', 'info'] as const;

export type Severity = (typeof SEVERITIES)[number];

/**
 * A drop suggestion always carries the statement that restores the index. Suggestions are
 * computed as a set (health/advice.ts): applying every one of a report together is safe.
 */
export interface DropSuggestion {
  /** DROP INDEX CONCURRENTLY IF EXISTS schema.name (plain DROP INDEX for a partitioned index) */
  drop: string;
  /**
   * CREATE INDEX CONCURRENTLY IF NOT EXISTS … from pg_get_indexdef with its TABLESPACE, then (one
   * statement per line, `;`-separated) its comment, CLUSTER mark and column statistics targets.
   */
  restore: string;
  /** What serves its lookups once it is gone, e.g. "lookups go to shop.idx_orders_a_b". */
  afterwards?: string;
}

export interface Finding {
  kind: FindingKind;
  severity: Severity;
  schema: string;
  table: string;
  /** null for table-level findings (fk_without_index, stale_stats). plan_regression: the expected index. */
  index: string | null;
  sizeBytes: number | null;
  /** One human sentence with the numbers behind the verdict. */
  evidence: string;
  suggestion: DropSuggestion | null;
}

/** One row of the seed's first monitoring view: idx_ indexes by idx_tup_read. */
export interface IndexUsageRow {
  schema: string;
  table: string;
  index: string;
  idxScan: number;
  idxTupRead: number;
  idxTupFetch: number;
  sizeBytes: number;
}

/**
 * What a size-budgeted rendering (render/report-json.ts under SNS's 256 KB) left out,
 * so a report rebuilt from it still counts everything and says how much was cut.
 */
export interface OmittedFindings {
  findings: number;
  bySeverity: Partial<Record<Severity, number>>;
  byKind: Partial<Record<FindingKind, number>>;
  /** Rows left out of `usage` and `unusedBySize`. */
  usageRows: number;
  unusedRows: number;
}

export interface IndexHealthReport {
  generatedAt: Date;
  database: string;
  /** pg_stat_database.stats_reset of the database, null when never reset. */
  statsResetAt: Date | null;
  /** Usage counters come from the writer only (the Data API reads the writer). Always true. */
  writerOnly: true;
  /** Days of snapshot history available to the unused check. */
  historyDays: number;
  /** The oldest usage snapshot the report could use; null (or absent) when there is none. */
  historyStartedAt?: Date | null;
  /**
   * Indexes with no usage verdict yet (history too young, or a stats reset inside the window):
   * not findings, so not counted as such; `firstVerdictAt` is when the earliest can get one.
   */
  pending?: { indexes: number; firstVerdictAt: Date | null };
  findings: Finding[];
  /** Seed view 1: idx_ indexes by idx_tup_read, descending. */
  usage: IndexUsageRow[];
  /** Seed view 2: idx_ indexes with zero scans, largest first. */
  unusedBySize: IndexUsageRow[];
  /**
   * What this report does not list but still counts: set on a report rebuilt from a
   * truncated JSON rendering, or by a builder that capped `usage`/`unusedBySize`, so every
   * renderer can say "top 25 of 4,000" instead of "of 25".
   */
  omitted?: OmittedFindings;
}
