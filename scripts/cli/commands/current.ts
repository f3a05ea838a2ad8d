import { relative } from 'node:path';
import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { withMigrator } from '../session.ts';
import { loadGraph } from '../load-graph.ts';
import { missingEmbeddedDatabase, requireExistingDatabase, resolveTarget } from '../target.ts';
import type { MigrationGraph } from '../../../lambdas/core/migrations/graph.ts';
import type { StatusReport } from '../../../lambdas/core/migrations/runner.ts';

/** The status of a database with nothing applied, from the files alone. */
async function unappliedStatus(dir: string): Promise<{ status: StatusReport; graph: MigrationGraph }> {
  const graph = await loadGraph(dir);
  return { graph, status: { current: [], heads: graph.heads(), pending: [...graph.order], adoptedFrom: null } };
}

const usage = 'current [--migrations DIR] [--database-url URL | Data API options] [--json]';

/** Like `alembic current`: the applied head revision(s) of the target database. Reads only, creates nothing. */
export const currentCommand: Command = {
  name: 'current',
  summary: 'show the revision(s) applied to the database',
  async run({ argv, stdout, stderr, env, cwd }) {
    const { values } = parseVerb(argv, { usage, options: migrationVerbOptions, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const dir = migrationsDir(values, cwd);
    const target = resolveTarget(values, env, cwd);
    const missing = missingEmbeddedDatabase(target);
    if (missing !== undefined && target.kind === 'pglite' && target.explicit) requireExistingDatabase(target);
    // No embedded database yet (a fresh clone): nothing is applied, and none is created to say so.
    const { status, graph } =
      missing === undefined
        ? await withMigrator({ values, env, cwd, dir, readOnly: true }, async (migrator) => ({ status: await migrator.status(), graph: migrator.graph }))
        : await unappliedStatus(dir);
    if (missing !== undefined) out.note(`no embedded database yet at ${relative(cwd, missing) || missing}: nothing applied (npm start or offpeak upgrade head creates it)`);
    out.result({ ...status, upToDate: status.pending.length === 0 });
    if (status.current.length === 0) out.line('<base> (nothing applied)');
    for (const rev of status.current) {
      const m = graph.all.get(rev);
      const head = status.heads.includes(rev) ? ' (head)' : '';
      const alembic = status.adoptedFrom === 'alembic' ? ' (from alembic_version; recorded in the ledger on the first upgrade)' : '';
      out.line(`${rev}${head}${alembic}${m ? `, ${m.description}` : ''}`);
    }
    if (status.pending.length) out.line(`${status.pending.length} migration(s) pending: ${status.pending.join(', ')}`);
    return ExitCode.ok;
  },
};
