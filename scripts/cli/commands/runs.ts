import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb } from '../args.ts';
import { createOutput, table } from '../output.ts';
import { withMigrator } from '../session.ts';

const listUsage = 'runs [--migrations DIR] [--database-url URL | Data API options] [--json]';
const abandonUsage = 'runs abandon <RUN_ID> [--migrations DIR] [--database-url URL | Data API options] [--json]';

/** Lists unfinished runs: the ones an `upgrade` or `downgrade` with the same target would resume. Reads only. */
export const runsCommand: Command = {
  name: 'runs',
  summary: 'list unfinished migration runs (resumed by the same upgrade/downgrade; see runs abandon)',
  async run({ argv, stdout, stderr, env, cwd }) {
    const { values } = parseVerb(argv, { usage: listUsage, options: migrationVerbOptions, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, listUsage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const runs = await withMigrator({ values, env, cwd, dir: migrationsDir(values, cwd) }, (m) => m.runs());
    out.result({ runs });
    if (runs.length === 0) {
      out.line('no unfinished runs');
      return ExitCode.ok;
    }
    const rows = runs.map((r) => [
      r.runId,
      `${r.direction === 'up' ? 'upgrade' : 'downgrade'} ${r.target}`,
      r.status,
      `${r.position}/${r.total}`,
      r.updatedAt.toISOString(),
      r.next ? `next: ${r.next.revision}${r.next.step === null ? '' : ` step ${r.next.step + 1}`}` : '',
    ]);
    for (const line of table([['RUN', 'COMMAND', 'STATUS', 'DONE', 'UPDATED', ''], ...rows])) out.line(line);
    for (const r of runs.filter((x) => x.error)) out.line(`${r.runId}: ${r.error}`);
    out.line('the same upgrade/downgrade resumes its run (re-planned if the ledger or the target moved); `offpeak runs abandon <RUN>` drops one');
    return ExitCode.ok;
  },
};

/** Abandons an unfinished run: the next upgrade or downgrade plans afresh from the ledger. Takes the lease. */
export const runsAbandonCommand: Command = {
  name: 'runs abandon',
  summary: 'abandon an unfinished run; the next upgrade/downgrade plans afresh from the ledger',
  async run({ argv, stdout, stderr, env, cwd }) {
    const { values, positionals } = parseVerb(argv, { usage: abandonUsage, options: migrationVerbOptions, positionals: { min: 1, max: 1 } });
    if (helpRequested(values, abandonUsage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const runId = positionals[0]!;
    await withMigrator({ values, env, cwd, dir: migrationsDir(values, cwd) }, (m) => m.abandon(runId));
    out.result({ abandoned: runId });
    out.line(`abandoned run ${runId}; its journal stays, and the next upgrade or downgrade plans afresh from the ledger`);
    return ExitCode.ok;
  },
};
