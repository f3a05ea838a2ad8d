import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, parseVerb } from '../args.ts';
import { createOutput, formatDuration, table } from '../output.ts';
import { withClient } from '../session.ts';
import { targetOptions } from '../target.ts';
import { healthOptions, healthOptionsFrom } from '../health-options.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { runAnalyze } from '../../../lambdas/core/health/analyze.ts';

const usage = 'analyze [--all] [--minutes N] [--json] [target options]';

export const analyzeCommand: Command = {
  name: 'analyze',
  summary: 'ANALYZE tables with stale statistics, one at a time within a deadline; resumes where the last run stopped',
  async run({ argv, stdout, stderr, env, cwd }) {
    const options = { ...targetOptions, ...healthOptions, all: { type: 'boolean' }, minutes: { type: 'string' } } as const;
    const { values } = parseVerb(argv, { usage, options, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const minutes = Number(values.minutes ?? '60');
    if (!Number.isFinite(minutes) || minutes <= 0) throw new ConfigError(`--minutes must be a number above 0, got ${JSON.stringify(values.minutes)}`);
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const deadline = new Date(Date.now() + minutes * 60_000);
    const result = await withClient(values, env, cwd, (client) =>
      runAnalyze({ client, options: healthOptionsFrom(values), deadline, all: values.all ?? false }),
    );
    out.result({
      queued: result.queued,
      remaining: result.remaining,
      tables: result.records.map((r) => ({ ...r, startedAt: r.startedAt.toISOString() })),
    });
    if (result.records.length === 0) out.line('no table needs ANALYZE');
    for (const line of table(result.records.map((r) => [`${r.schema}.${r.table}`, r.outcome, formatDuration(r.durationMs), r.error ?? r.reason]))) {
      out.line(line);
    }
    if (result.remaining > 0) out.line(`${result.remaining} tables left for the next run (deadline reached)`);
    return result.records.some((r) => r.outcome === 'failed') ? ExitCode.failed : ExitCode.ok;
  },
};
