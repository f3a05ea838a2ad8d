import { parseStatements, type ParsedStatement } from '../db/statements.ts';
import type { LintConfig } from './config.ts';
import { applyDisables, type Disable } from './disables.ts';
import { unrelatedTables } from './feature.ts';
import { checkUnit, type SchemaKnowledge } from './statement-checks.ts';
import { lineAt, skipTrivia } from './source-text.ts';
import { toViolation } from './to-violation.ts';
import type { Node } from 'libpg-query';
import type { Violation } from './violation.ts';

/**
 * Lints a plain .sql file as psql would run it: statements in order, BEGIN … COMMIT blocks
 * are transaction blocks, a plain SET lasts for the session. The whole file is one unit for
 * "created earlier" and for feature/unrelated-tables.
 *
 * Directives (SQL comments):
 *   -- offpeak-lint-disable rule-id[, rule-id]: reason                 whole file
 *   -- offpeak-lint-disable-next-statement rule-id[, rule-id]: reason  the statement that follows
 */
const DIRECTIVE = /--\s*offpeak-lint-disable(-next-statement)?\b[ \t]*([^\n]*)/g;

export async function lintSqlText(file: string, text: string, config: LintConfig, knowledge: SchemaKnowledge): Promise<Violation[]> {
  let parsed: ParsedStatement[];
  try {
    parsed = await parseStatements(text);
  } catch (error) {
    const cursor = (error as { cause?: { sqlDetails?: { cursorPosition?: number } } }).cause?.sqlDetails?.cursorPosition;
    return [
      {
        rule: 'sql/parse-error',
        severity: 'error',
        message: (error as Error).message,
        hint: 'fix the syntax; the file is checked with the PostgreSQL parser (libpg-query)',
        file,
        ...(cursor ? { line: lineAt(text, cursor - 1) } : {}),
      },
    ];
  }
  const lines = parsed.map((s) => lineAt(text, skipTrivia(text, s.location)));
  const unit = checkUnit(
    parsed.map((s, i) => ({ text: s.text, node: s.node as Node, inTransaction: false, runnerGuarded: false, origin: i })),
    { config, knowledge, script: true },
  );
  const violations = unit.findings.map(({ finding, origin }) =>
    toViolation(finding, config, { file, statement: parsed[origin]!.text, line: lines[origin]! }),
  );
  const feature = unrelatedTables(unit.touched, unit.links, config);
  if (feature) violations.push(toViolation(feature, config, { file, line: lines[0] ?? 1 }));

  const disables: Disable[] = [];
  for (const m of text.matchAll(DIRECTIVE)) {
    const line = lineAt(text, m.index);
    const [rulesPart, ...reasonParts] = (m[2] ?? '').split(':');
    const reason = reasonParts.join(':').trim() || undefined;
    const nextStatement = m[1] ? lines.findIndex((l) => l > line) : undefined;
    for (const rule of (rulesPart ?? '').split(',').map((r) => r.trim()).filter(Boolean)) {
      disables.push({
        rule,
        reason,
        at: { file, line },
        ...(nextStatement !== undefined ? { applies: (v: Violation) => v.line === lines[nextStatement] } : {}),
      });
    }
  }
  return applyDisables(violations, disables, (rule) => config.severities.has(rule as never));
}
