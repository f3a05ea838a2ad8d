import type { LintConfig } from './config.ts';
import type { Finding, Violation } from './violation.ts';

/** A finding placed in a file, at the severity the config gives its rule. */
export function toViolation(finding: Finding, config: LintConfig, where: Omit<Violation, 'rule' | 'severity' | 'message' | 'hint'>): Violation {
  return { ...finding, severity: config.severities.get(finding.rule) ?? 'error', ...where };
}
