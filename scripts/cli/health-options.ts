import type { ParseArgsConfig } from 'node:util';
import { ConfigError } from '../../lambdas/core/errors.ts';
import type { HealthOptions } from '../../lambdas/core/health/options.ts';

/** Options the health verbs (analyze, snapshot, report) share besides the target. */
export const healthOptions = {
  'ledger-schema': { type: 'string' },
  'drop-prefix': { type: 'string' },
  'unused-days': { type: 'string' },
  'retention-days': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export interface HealthOptionValues {
  'ledger-schema'?: string | undefined;
  'drop-prefix'?: string | undefined;
  'unused-days'?: string | undefined;
  'retention-days'?: string | undefined;
}

function wholeNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`--${flag} must be a whole number of days above 0, got ${JSON.stringify(text)}`);
  return n;
}

/** Maps the flags to core options; core fills the defaults and validates the combination. */
export function healthOptionsFrom(values: HealthOptionValues): Partial<HealthOptions> {
  return {
    ledgerSchema: values['ledger-schema'],
    dropPrefix: values['drop-prefix'],
    unusedDays: wholeNumber('unused-days', values['unused-days']),
    retentionDays: wholeNumber('retention-days', values['retention-days']),
  };
}
