import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { withClient } from '../session.ts';
import { targetOptions } from '../target.ts';
import { healthOptions, healthOptionsFrom } from '../health-options.ts';
import { takeUsageSnapshot } from '../../../lambdas/core/health/snapshot.ts';

const usage = 'snapshot [--retention-days N] [--ledger-schema S] [--json] [target options]';

export const snapshotCommand: Command = {
  name: 'snapshot',
  summary: 'record per-index usage counters and sizes (the history behind "unused"); applies retention',
  async run({ argv, stdout, stderr, env, cwd }) {
    const options = { ...targetOptions, ...healthOptions } as const;
    const { values } = parseVerb(argv, { usage, options, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const result = await withClient(values, env, cwd, (client) => takeUsageSnapshot({ client, options: healthOptionsFrom(values) }));
    out.result({
      takenAt: result.takenAt.toISOString(),
      indexes: result.indexes,
      deleted: result.deleted,
      statsResetAt: result.statsResetAt?.toISOString() ?? null,
    });
    const reset = result.statsResetAt ? `stats reset ${result.statsResetAt.toISOString()}` : 'stats never reset';
    out.line(`snapshot ${result.takenAt.toISOString()}: ${result.indexes} indexes recorded, ${result.deleted} old rows deleted (${reset})`);
    return ExitCode.ok;
  },
};
