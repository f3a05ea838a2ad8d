import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { withMigrator } from '../session.ts';

const usage = 'current [--migrations DIR] [--database-url URL | Data API options] [--json]';

/** Like `alembic current`: the applied head revision(s) of the target database. Reads only, creates nothing. */
export const currentCommand: Command = {
  name: 'current',
  summary: 'show the revision(s) applied to the database',
  async run({ argv, stdout, stderr, env, cwd }) {
    const { values } = parseVerb(argv, { usage, options: migrationVerbOptions, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const { status, graph } = await withMigrator({ values, env, cwd, dir: migrationsDir(values, cwd) }, async (migrator) => ({
      status: await migrator.status(),
      graph: migrator.graph,
    }));
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
