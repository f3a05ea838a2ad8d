import { renderDoctorTable, runDoctor } from '../../../lambdas/core/doctor/doctor.ts';
import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { withMigrator } from '../session.ts';

const usage = 'doctor [--migrations DIR] [--database-url URL | Data API options] [--json]';

/**
 * Checks a target before a window does: reachability (Data API enabled), engine version,
 * the role's timeouts and privileges, extensions the pending migrations need, the ledger's
 * unfinished run and lease, clock skew. Exit 0 when nothing is a problem, 1 otherwise.
 */
export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check a target before a window does: Data API, engine, role settings, privileges, ledger, clock',
  async run({ argv, stdout, stderr, env, cwd }) {
    const { values } = parseVerb(argv, { usage, options: migrationVerbOptions, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const ledgerSchema = 'offpeak';
    const report = await withMigrator({ values, env, cwd, dir: migrationsDir(values, cwd) }, (migrator, client) =>
      runDoctor({ client, migrator, ledgerSchema, clusterArn: values['resource-arn'] }),
    );
    out.result(report);
    for (const line of renderDoctorTable(report).split('\n')) out.line(line);
    return report.ok ? ExitCode.ok : ExitCode.failed;
  },
};
