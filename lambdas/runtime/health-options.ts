import type { HealthOptions } from '../core/health/options.ts';
import { indexPrefix, unusedDays } from './config.ts';

/** The health tunables infra sets per deployment; everything else keeps core's defaults. */
export function healthOptionsFromEnv(ledgerSchema: string): Partial<HealthOptions> {
  return { ledgerSchema, dropPrefix: indexPrefix(), unusedDays: unusedDays() };
}
