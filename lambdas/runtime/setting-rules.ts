// A namespace import lets esbuild drop what is unused (`import { z }` pulls in every locale).
import * as z from 'zod';
import { ConfigError } from '../core/errors.ts';
import { DEFAULT_HEALTH_OPTIONS } from '../core/health/options.ts';
import { parseLoadLimit } from '../core/migrations/load-guard.ts';

/**
 * The rule for every setting a deployment passes to the Lambdas, in one place:
 * infra/config.ts validates CDK context with these at synth, and runtime/config.ts
 * validates the environment with the same schemas at run time, so a value that
 * synthesizes is a value the handlers accept.
 */

export const SettingRule = {
  windowMinutes: z.coerce.number().int().min(1).max(24 * 60),
  /** Days of usage snapshots before an index may be called unused. */
  unusedDays: z.coerce.number().int().min(1).max(365),
  indexPrefix: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected an index-name prefix of lower-case letters, digits or underscores, e.g. idx_'),
  ledgerSchema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a schema name of lower-case letters, digits or underscores'),
  databaseName: z.string().min(1).max(64),
  timeZone: z.string().refine(isTimeZone, 'expected an IANA time zone, e.g. UTC or Europe/Berlin'),
  /** Days a pre-run cluster snapshot is kept before the window run deletes it. */
  snapshotRetentionDays: z.coerce.number().int().min(1).max(365),
  /** Windows a run may stay unfinished before the alarm fires. */
  unfinishedRunWindows: z.coerce.number().int().min(1).max(100),
  /** The window run's load guard (load-guard.ts): `active=N[,waiting=M]`. */
  maxLoad: loadLimitRule('maxLoad', false),
  /** `active=N[,waiting=M][,cancel-builds]`. */
  criticalLoad: loadLimitRule('criticalLoad', true),
} as const;

/** A load limit, parsed by the CLI's own parser, whose message names the bad part and the expected form. */
function loadLimitRule(name: string, critical: boolean) {
  return z.string().transform((text, ctx) => {
    try {
      return parseLoadLimit(text, name, { critical });
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
}

export type SettingName = keyof typeof SettingRule;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Usage snapshots are kept this long: the default 90 days, or longer when the
 * unused window needs it (retention must exceed the window, or no index could
 * ever be called unused).
 */
export function snapshotRetentionFor(unusedDays: number): number {
  return Math.max(DEFAULT_HEALTH_OPTIONS.retentionDays, unusedDays + 30);
}

/** Parses one setting; the error names the setting, the value and what was expected. */
export function checkSetting<K extends SettingName>(name: K, value: unknown, where: string): z.output<(typeof SettingRule)[K]> {
  const result = SettingRule[name].safeParse(value);
  if (result.success) return result.data as z.output<(typeof SettingRule)[K]>;
  const expected = result.error.issues.map((i) => i.message).join('; ');
  throw new ConfigError(`${where} ${name} = ${JSON.stringify(value)} is not valid: ${expected}`, { context: { setting: name } });
}
