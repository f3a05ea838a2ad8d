/**
 * The report's advice section: every drop the report suggests, as one script. The suggestions
 * were computed as a set (health/advice.ts), so the whole script is safe to apply together, and
 * so is any part of it (no kept index is ever dropped).
 */
import type { Finding } from '../health/report.ts';

export interface AdviceSection {
  /** The DROP statements, ordered by schema, table and index. */
  drop: string[];
  /** The matching restore statements, in reverse order (undoes the script from its end). */
  restore: string[];
  /** One line per dropped index: `schema.index: what serves its lookups afterwards`. */
  afterwards: string[];
}

const byPlace = new Intl.Collator('en', { numeric: true });

export function adviceSection(findings: readonly Finding[]): AdviceSection {
  const advised = findings
    .filter((f): f is Finding & { index: string; suggestion: NonNullable<Finding['suggestion']> } => f.suggestion !== null && f.index !== null)
    .sort((a, b) => byPlace.compare(a.schema, b.schema) || byPlace.compare(a.table, b.table) || byPlace.compare(a.index, b.index));
  return {
    drop: advised.map((f) => f.suggestion.drop),
    restore: advised.map((f) => f.suggestion.restore).reverse(),
    afterwards: advised.map((f) => `${f.schema}.${f.index} (${f.kind}): ${f.suggestion.afterwards ?? 'see its finding'}`),
  };
}
