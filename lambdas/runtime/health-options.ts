import type { HealthOptions } from '../core/health/options.ts';
import { indexPrefix, unusedDays } from './config.ts';
import { snapshotRetentionFor } from './setting-rules.ts';

/**
 * The health tunables infra sets per deployment; everything else keeps core's defaults.
 * Snapshot retention follows the unused window, so any unusedDays that synthesizes works.
 */
export function healthOptionsFromEnv(ledgerSchema: string): Partial<HealthOptions> {
  const days = unusedDays();
  return { ledgerSchema, dropPrefix: indexPrefix(), unusedDays: days, retentionDays: snapshotRetentionFor(days) };
}
