import type { Node } from 'libpg-query';
import { parseStatements, type ParsedStatement } from '../db/statements.ts';
import type { LintConfig } from './config.ts';
import { readDirectives } from './directives.ts';
import { applyDisables, type Disable } from './disables.ts';
import { unrelatedTables } from './feature.ts';
import { lineAt, skipTrivia } from './source-text.ts';
import { toViolation } from './to-violation.ts';
import { checkUnit, emptyKnowledge } from './unit.ts';
import type { Violation } from './violation.ts';

/**
 * Lints a plain .sql file as psql would run it: statements in order, BEGIN … COMMIT blocks are
 * transaction blocks, a plain SET lasts for the session. The whole file is one unit for "created
 * earlier" and for feature/unrelated-tables. Each file stands alone: what another file validates
 * does not count here (files have no order; migrations have their graph).
 * Directives: see directives.ts.
 */
export async function lintSqlText(file: string, text: string, config: LintConfig): Promise<Violation[]> {
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
  const lastLines = parsed.map((s) => lineAt(text, skipTrivia(text, s.location) + s.text.length));
  const unit = checkUnit(
    parsed.map((s, i) => ({ text: s.text, node: s.node as Node, inTransaction: false, runnerGuarded: false, origin: i })),
    { config, knowledge: emptyKnowledge(), script: true },
  );
  const violations = unit.findings.map(({ finding, origin }) => toViolation(finding, config, { file, statement: parsed[origin]!.text, line: lines[origin]! }));
  const feature = unrelatedTables(unit.touched, unit.links, config);
  if (feature) violations.push(toViolation(feature, config, { file, line: lines[0] ?? 1 }));

  const disables: Disable[] = [];
  for (const d of await readDirectives(text)) {
    const target =
      d.scope === 'next-statement'
        ? lines.findIndex((l) => l > d.line)
        : d.scope === 'line'
          ? // the statement this line is part of, or the one that ends on it (`…; -- offpeak-lint-disable-line …`)
            parsed.findIndex((_, i) => lines[i]! <= d.line && d.line <= lastLines[i]!)
          : undefined;
    for (const rule of d.rules) {
      disables.push({
        rule,
        reason: d.reason,
        at: { file, line: d.line },
        ...(target !== undefined ? { applies: (v: Violation) => target >= 0 && v.line === lines[target] } : {}),
      });
    }
  }
  return applyDisables(violations, disables, (rule) => config.severities.has(rule as never));
}
