import type { HealthOptions } from './options.ts';
import type { TableFacts } from './catalog.ts';

export type StaleReason = 'never_analyzed' | 'modified' | 'migrated';

export interface Staleness {
  reason: StaleReason;
  /** One human sentence with the numbers. */
  detail: string;
}

function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Why a table's planner statistics are stale, or null when they are not:
 * - never analyzed (manual or auto);
 * - more rows modified since the last ANALYZE than autovacuum's own analyze rule allows
 *   (threshold + scale factor × reltuples; defaults 50 + 10 %, as PostgreSQL's);
 * - analyzed before the last migration that touched it (new columns, types, indexes
 *   on expressions all need fresh statistics).
 */
export function staleness(table: TableFacts, options: Pick<HealthOptions, 'analyzeThresholdRows' | 'analyzeScaleFactor'>): Staleness | null {
  // reltuples = -1 (PG14+) is durable proof of "never analyzed or vacuumed"; a missing
  // last_analyze alone is not, since statistics counters do not survive a crash or failover.
  if (table.reltuples < 0 && table.lastAnalyzedAt < 0) {
    return { reason: 'never_analyzed', detail: 'never analyzed: the planner is guessing its row counts' };
  }
  const limit = options.analyzeThresholdRows + options.analyzeScaleFactor * Math.max(table.reltuples, 0);
  if (table.modsSinceAnalyze > limit) {
    return {
      reason: 'modified',
      detail: `${table.modsSinceAnalyze} rows modified since the last ANALYZE (${table.lastAnalyzedAt < 0 ? 'not recorded' : isoSeconds(table.lastAnalyzedAt)}), over ${Math.round(limit)} (${options.analyzeThresholdRows} + ${options.analyzeScaleFactor * 100} % of ${Math.max(table.reltuples, 0)} rows)`,
    };
  }
  // With no ANALYZE on record (statistics lost) the order is unknown: not claimed stale.
  if (table.lastMigrationAt >= 0 && table.lastAnalyzedAt >= 0 && table.lastAnalyzedAt < table.lastMigrationAt) {
    return {
      reason: 'migrated',
      detail: `last analyzed ${isoSeconds(table.lastAnalyzedAt)}, before the migration applied ${isoSeconds(table.lastMigrationAt)} that touched it`,
    };
  }
  return null;
}
