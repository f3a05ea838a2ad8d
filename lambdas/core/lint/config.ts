import * as z from 'zod';
import { ConfigError } from '../errors.ts';
import { RULES, RULES_BY_ID, type RuleId, type Severity } from './rules.ts';
import type { Volatility } from './volatility.ts';

/**
 * Lint configuration, e.g. the repo's `offpeak.lint.json`:
 *   { "rules": { "feature/unrelated-tables": "off", "locking/rename": "warning" },
 *     "indexPrefix": "idx_", "maxUnrelatedTables": 3,
 *     "functions": { "app.new_id": "volatile", "jsonb_empty": "immutable" } }
 * Unknown keys and rule ids are refused, so a typo never silently disables nothing.
 */
export interface LintConfig {
  /** Effective severity per rule; rules switched off are absent. */
  severities: ReadonlyMap<RuleId, Severity>;
  indexPrefix: string;
  /** feature/unrelated-tables warns above this many unrelated table groups in one migration. */
  maxUnrelatedTables: number;
  /** Volatility of functions pg_catalog and contrib do not know (keys `name` or `schema.name`, lower-case). */
  functions: ReadonlyMap<string, Volatility>;
}

const schema = z
  .object({
    rules: z.record(z.string(), z.enum(['error', 'warning', 'off'])).optional(),
    indexPrefix: z.string().min(1).optional(),
    maxUnrelatedTables: z.number().int().min(1).optional(),
    functions: z.record(z.string().min(1), z.enum(['immutable', 'stable', 'volatile'])).optional(),
  })
  .strict();

export type LintConfigInput = z.input<typeof schema>;

export function resolveLintConfig(input: unknown = {}, source = 'lint config'): LintConfig {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`${source} is invalid: ${detail}`);
  }
  const severities = new Map<RuleId, Severity>(RULES.map((r) => [r.id, r.severity]));
  for (const [id, level] of Object.entries(parsed.data.rules ?? {})) {
    const info = RULES_BY_ID.get(id);
    if (!info) throw new ConfigError(`${source}: unknown rule ${JSON.stringify(id)}; \`offpeak lint --rules\` lists them`);
    if (!info.configurable) throw new ConfigError(`${source}: rule ${id} cannot be reconfigured`);
    if (level === 'off') severities.delete(info.id as RuleId);
    else severities.set(info.id as RuleId, level);
  }
  return {
    severities,
    indexPrefix: parsed.data.indexPrefix ?? 'idx_',
    maxUnrelatedTables: parsed.data.maxUnrelatedTables ?? 3,
    functions: new Map(Object.entries(parsed.data.functions ?? {}).map(([name, v]) => [name.toLowerCase(), v])),
  };
}
