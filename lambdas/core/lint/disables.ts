import { RULES_BY_ID } from './rules.ts';
import type { Violation } from './violation.ts';

/**
 * Per-migration (`lint: { disable: [{ rule, reason }] }`) and per-file/statement
 * (`-- offpeak-lint-disable rule: reason`) suppressions. A suppression needs a reason and
 * a known, configurable rule; one that suppresses nothing is reported so it does not linger.
 */
export interface Disable {
  rule: string;
  reason: string | undefined;
  /** Only violations for which this returns true are suppressed (default: all in the file/migration). */
  applies?: (v: Violation) => boolean;
  /** Where the disable is written, for reporting. */
  at: Pick<Violation, 'file' | 'revision' | 'line'>;
}

/** `enabled` tells which rules the config leaves on: a disable of a rule switched off is not "unused". */
export function applyDisables(violations: Violation[], disables: readonly Disable[], enabled: (rule: string) => boolean): Violation[] {
  const meta: Violation[] = [];
  const active: Disable[] = [];
  for (const d of disables) {
    const info = RULES_BY_ID.get(d.rule);
    if (!info || !info.configurable) {
      meta.push({
        rule: 'lint/unknown-rule',
        severity: 'error',
        message: info ? `rule ${d.rule} cannot be disabled` : `lint.disable names unknown rule ${JSON.stringify(d.rule)}`,
        hint: '`offpeak lint --rules` lists the rule ids',
        ...d.at,
      });
    } else if (!d.reason?.trim()) {
      meta.push({
        rule: 'lint/disable-without-reason',
        severity: 'error',
        message: `disabling ${d.rule} needs a reason; the rule stays on`,
        hint: `write { rule: '${d.rule}', reason: 'why breaking it is right here' } (in .sql: -- offpeak-lint-disable ${d.rule}: reason)`,
        ...d.at,
      });
    } else {
      active.push(d);
    }
  }
  const used = new Set<Disable>();
  const kept = violations.filter((v) => {
    const match = active.find((d) => d.rule === v.rule && (d.applies?.(v) ?? true));
    if (match) used.add(match);
    return !match;
  });
  for (const d of active) {
    if (!used.has(d) && enabled(d.rule)) {
      meta.push({
        rule: 'lint/unused-disable',
        severity: 'warning',
        message: `the disable of ${d.rule} suppresses nothing`,
        hint: 'remove it, so a future violation of the rule is not hidden',
        ...d.at,
      });
    }
  }
  return [...kept, ...meta];
}
