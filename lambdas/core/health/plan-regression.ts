/**
 * The nightly `plan_regression` check: every plan expectation that held when its migration was applied (usable,
 * or chosen; migrations/plan-proof.ts records it) is EXPLAINed again, and one that no longer holds is a finding.
 * Losing `usable` (the index cannot serve the query at all: dropped, altered, the query's table changed) is a
 * warning; losing only `chosen` (the planner now prefers another plan, e.g. after the data changed) is info.
 *
 * One statement reads the baselines, then one short read-only transaction per expectation (EXPLAIN needs SET
 * LOCAL, and the Data API keeps settings only inside a transaction): expectations are few, unlike indexes, so
 * this is bounded by what migrations declare, not by the catalog's size. Nothing is written.
 */
import type { SqlClient } from '../db/client.ts';
import { describePlanCheck, planRegressions } from '../migrations/plan-proof.ts';
import type { Finding } from './report.ts';

export async function planRegressionFindings(client: SqlClient, ledgerSchema: string): Promise<Finding[]> {
  const regressions = await planRegressions(client, ledgerSchema);
  return regressions.map(({ baseline, check, lost }) => {
    const [schema, table] = (check.table ?? baseline.table ?? '?.?').split('.') as [string, string];
    const index = baseline.index.split('.').pop()!;
    const held = `${lost === 'usable' ? 'usable' : 'chosen'} when checked${baseline.heldAt ? ` on ${baseline.heldAt.toISOString().slice(0, 10)}` : ''}`;
    return {
      kind: 'plan_regression',
      severity: lost === 'usable' ? 'warning' : 'info',
      schema,
      table,
      index,
      sizeBytes: null,
      evidence: `expectation ${JSON.stringify(baseline.name)} of migration ${baseline.revision} was ${held}; now ${describePlanCheck(check).replace(/^.*?→ \S+: /, '')}. Query: ${baseline.sql}`,
      suggestion: null,
    } satisfies Finding;
  });
}
