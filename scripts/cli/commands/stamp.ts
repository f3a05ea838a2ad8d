import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { withMigrator } from '../session.ts';

const usage = 'stamp <REV|head|base> [--migrations DIR] [--database-url URL | Data API options] [--json]';

/** Like `alembic stamp`: makes the ledger say REV (and its ancestors) is applied, running no migration. */
export const stampCommand: Command = {
  name: 'stamp',
  summary: 'record REV as the applied revision without running anything',
  async run({ argv, stdout, stderr, env, cwd }) {
    const { values, positionals } = parseVerb(argv, { usage, options: migrationVerbOptions, positionals: { min: 1, max: 1 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const current = await withMigrator({ values, env, cwd, dir: migrationsDir(values, cwd) }, (m) => m.stamp(positionals[0]!));
    out.result({ current });
    out.line(`stamped: the ledger now says ${current.length ? current.join(', ') : '<base>'}; no migration ran`);
    return ExitCode.ok;
  },
};
