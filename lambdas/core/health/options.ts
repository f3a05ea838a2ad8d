import { ConfigError } from '../errors.ts';

/**
 * Tunables of the nightly health job. Every default is chosen so that what the
 * report says is true on a typical OLTP database; each one says why.
 */
export interface HealthOptions {
  /**
   * Bookkeeping schema (the engine's `offpeak` schema). Snapshots, the analyze queue
   * and the analyze log live here; its own tables are left out of the checks.
   */
  ledgerSchema: string;
  /** Only indexes whose name starts with this get drop advice (the team's `idx_` convention). */
  dropPrefix: string;
  /**
   * `unused` needs snapshot history spanning this many days with no scans. 14 days
   * covers two weekly cycles (weekly reports and batch jobs use indexes rarely).
   */
  unusedDays: number;
  /** Snapshots older than this are deleted. Must exceed `unusedDays`, or no verdict is ever possible. */
  retentionDays: number;
  /**
   * `oversized` when index bytes exceed this ratio of the table's bytes (heap + TOAST).
   * A btree on one or two columns is typically 20–40 % of its heap; one larger than
   * the heap itself means wide keys, many INCLUDE columns, or bloat.
   */
  oversizedRatio: number;
  /** The ratio rule is ignored below this index size: on small tables one page already "exceeds" the heap. 8 MiB. */
  oversizedMinBytes: number;
  /**
   * `oversized` regardless of the table above this size. 10 GiB: beyond it a
   * rebuild (REINDEX CONCURRENTLY, or a drop/recreate) no longer fits a night's window.
   */
  oversizedAbsoluteBytes: number;
  /** `bloated` when the estimated wasted share of the index is at least this. 0.5: half the pages empty. */
  bloatRatio: number;
  /**
   * …and the estimated waste is at least this many bytes. 10 MiB: below it a
   * REINDEX gains nothing worth a lock queue or a night's I/O.
   */
  bloatMinBytes: number;
  /**
   * `stale_stats` when n_mod_since_analyze > analyzeThresholdRows + analyzeScaleFactor × reltuples:
   * PostgreSQL's own autovacuum analyze rule with its defaults (50 rows + 10 %).
   */
  analyzeThresholdRows: number;
  analyzeScaleFactor: number;
  /** Rows in the two monitoring views (usage by idx_tup_read, unused by size). Renderers cut further. */
  viewLimit: number;
  /** Keyset page: at most this many rows… */
  pageRows: number;
  /**
   * …and at most this many estimated response bytes. The Data API refuses responses
   * over 1 MiB. The estimate bounds the records' encoding (see paginate.ts); 768 KiB
   * leaves room for the envelope, column metadata (~300 bytes per column) and any
   * difference between the local server's encoding and the service's.
   */
  pageBytes: number;
}

export const DEFAULT_HEALTH_OPTIONS: Readonly<HealthOptions> = Object.freeze({
  ledgerSchema: 'offpeak',
  dropPrefix: 'idx_',
  unusedDays: 14,
  retentionDays: 90,
  oversizedRatio: 1,
  oversizedMinBytes: 8 * 1024 * 1024,
  oversizedAbsoluteBytes: 10 * 1024 ** 3,
  bloatRatio: 0.5,
  bloatMinBytes: 10 * 1024 * 1024,
  analyzeThresholdRows: 50,
  analyzeScaleFactor: 0.1,
  viewLimit: 100,
  pageRows: 20_000,
  pageBytes: 768 * 1024,
});

/** Fills defaults and rejects values that would make the report lie or never conclude. */
export function resolveHealthOptions(partial: Partial<HealthOptions> = {}): HealthOptions {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const options: HealthOptions = { ...DEFAULT_HEALTH_OPTIONS, ...defined };
  const positive = ['unusedDays', 'retentionDays', 'viewLimit', 'pageRows', 'pageBytes', 'oversizedRatio', 'bloatRatio'] as const;
  for (const key of positive) {
    if (!Number.isFinite(options[key]) || options[key] <= 0) {
      throw new ConfigError(`health option ${key} must be a positive number, got ${String(options[key])}`);
    }
  }
  const nonNegative = ['oversizedMinBytes', 'oversizedAbsoluteBytes', 'bloatMinBytes', 'analyzeThresholdRows', 'analyzeScaleFactor'] as const;
  for (const key of nonNegative) {
    if (!Number.isFinite(options[key]) || options[key] < 0) {
      throw new ConfigError(`health option ${key} must be zero or more, got ${String(options[key])}`);
    }
  }
  if (options.retentionDays <= options.unusedDays) {
    throw new ConfigError(
      `snapshot retention (${options.retentionDays} days) must exceed the unused window (${options.unusedDays} days), or no index could ever be called unused`,
    );
  }
  if (options.ledgerSchema.length === 0) throw new ConfigError('the ledger schema name cannot be empty');
  return options;
}
