import { relative } from 'node:path';
import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { readStatus, writeStatusWarnings } from '../status.ts';

const usage = 'current [--migrations DIR] [--database-url URL | Data API options] [--json]';

/**
 * Like `alembic current`: the applied head revision(s) of the target database. Reads only, creates nothing, and
 * never refuses: an edited or missing applied file is a warning here (`check` is the one that fails).
 */
export const currentCommand: Command = {
  name: 'current',
  summary: 'show the revision(s) applied to the database',
  async run({ argv, stdout, stderr, env, cwd }) {
    const { values } = parseVerb(argv, { usage, options: migrationVerbOptions, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const dir = migrationsDir(values, cwd);
    const { status, graph, missing } = await readStatus({ values, env, cwd, dir });
    if (missing !== undefined) out.note(`no embedded database yet at ${relative(cwd, missing) || missing}: nothing applied (npm start or offpeak upgrade head creates it)`);
    out.result({ ...status, upToDate: status.pending.length === 0 });
    writeStatusWarnings(stderr, status);
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
