import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { withMigrator } from '../session.ts';
import { writeStatusWarnings } from '../status.ts';
import { checkExpectation, describePlanCheck, type PlanCheck } from '../../../lambdas/core/migrations/plan-proof.ts';

const usage = 'verify-plans [--migrations DIR] [--database-url URL | Data API options] [--json]';

/**
 * Re-checks the plan expectations (`expect`) of every applied migration: EXPLAIN, read-only, nothing recorded.
 * Exits 1 when one does not hold (its index is not usable for its query, or its SQL fails); an index that is
 * usable but not chosen (a small table's seq scan is cheaper) is reported and is not a failure.
 */
export const verifyPlansCommand: Command = {
  name: 'verify-plans',
  summary: "re-check every applied migration's plan expectations (EXPLAIN: is the index usable, is it chosen); exit 1 when one does not hold",
  async run({ argv, stdout, stderr, env, cwd }) {
    const { values } = parseVerb(argv, { usage, options: migrationVerbOptions, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const dir = migrationsDir(values, cwd);
    const checks: PlanCheck[] = await withMigrator({ values, env, cwd, dir, readOnly: true }, async (migrator, client) => {
      const status = await migrator.status();
      writeStatusWarnings(stderr, status);
      const applied = new Set((await migrator.history()).filter((h) => h.applied).map((h) => h.revision));
      const found: PlanCheck[] = [];
      for (const revision of migrator.graph.order) {
        if (!applied.has(revision)) continue;
        const m = migrator.graph.get(revision);
        for (const e of m.expect) found.push(await checkExpectation(client, m, e));
      }
      return found;
    });
    const failing = checks.filter((c) => c.outcome === 'unusable' || c.outcome === 'error');
    out.result({
      checks: checks.map((c) => ({
        revision: c.revision,
        name: c.name,
        index: c.index,
        usable: c.usable,
        chosen: c.chosen,
        outcome: c.outcome,
        table: c.table,
        planKind: c.planKind,
        defaultPlan: c.defaultPlan,
        reason: c.reason,
      })),
      holds: failing.length === 0,
    });
    if (checks.length === 0) out.line('no applied migration declares plan expectations (expect: [...])');
    for (const c of checks) out.line(describePlanCheck(c));
    if (checks.length) {
      const count = (o: PlanCheck['outcome']) => checks.filter((c) => c.outcome === o).length;
      out.line(
        `${checks.length} expectation(s): ${count('held')} used, ${count('not_chosen')} usable but not chosen, ${count('unusable')} not usable, ${count('error')} failed, ${count('skipped')} skipped`,
      );
    }
    return failing.length ? ExitCode.failed : ExitCode.ok;
  },
};
