import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb, parseWindowOption } from '../args.ts';
import { createOutput, table } from '../output.ts';
import { withMigrator } from '../session.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { formatBytes } from '../../../lambdas/core/health/checks.ts';
import { formatSeconds, preflight } from '../../../lambdas/core/preflight/preflight.ts';

const usage = 'preflight [head|heads|REV] [--window START,MINUTES[,TZ]] [--free-bytes N] [--migrations DIR] [--database-url URL | Data API options] [--json]';

const options = { ...migrationVerbOptions, window: { type: 'string' }, 'free-bytes': { type: 'string' } } as const;

function parseFreeBytes(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) throw new ConfigError(`--free-bytes ${JSON.stringify(text)} is not a whole number of bytes, e.g. --free-bytes 53687091200\nusage: offpeak ${usage}`);
  return Number(text.trim());
}

/**
 * Estimates what an upgrade to REV (default head) would build: index bytes, sort spill, seconds at this target's
 * calibrated rate; with --window, which builds fit and which roll over. Reads only. Exits 6 when a build needs
 * more than a whole window, or the builds more disk than --free-bytes.
 */
export const preflightCommand: Command = {
  name: 'preflight',
  summary: 'estimate the pending index builds (bytes, temp, seconds) against the window and free disk; refuse what cannot fit',
  async run({ argv, stdout, stderr, env, cwd }) {
    const { values, positionals } = parseVerb(argv, { usage, options, positionals: { min: 0, max: 1 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const target = positionals[0] ?? 'head';
    const window = parseWindowOption(values.window);
    const freeBytes = parseFreeBytes(values['free-bytes']);
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const dir = migrationsDir(values, cwd);
    const { report, refusals } = await withMigrator({ values, env, cwd, dir, readOnly: true }, async (migrator, client) =>
      preflight({
        client,
        graph: migrator.graph,
        plan: await migrator.plan('up', target),
        schema: migrator.ledger.schema,
        windowMinutes: window?.durationMinutes,
        freeBytes,
        freeBytesSource: '--free-bytes',
      }),
    );
    out.result(report);
    if (!report.units.length) out.line(`no index builds pending up to ${target}`);
    else {
      const rows = report.units.map((u) => [
        u.revision,
        `step ${u.step + 1}`, // as upgrade and runs print steps; --json keeps the 0-based index
        u.kind,
        u.index,
        formatBytes(u.estimatedBytes),
        u.estimatedTempBytes ? `temp ${formatBytes(u.estimatedTempBytes)}` : 'no spill',
        `${formatSeconds(u.estimatedSeconds)}${u.calibrated ? '' : ' (default rate)'}`,
      ]);
      for (const line of table(rows)) out.line(line);
      out.line(`total: ${formatBytes(report.totalBytes)}, ${formatSeconds(report.totalSeconds)}`);
    }
    if (report.window) {
      const w = report.window;
      out.line(w.fits ? `fits the ${w.minutes}-minute window` : `${w.unitsThatFit} of ${report.units.length} build(s) fit the ${w.minutes}-minute window; the rest roll to the next`);
    }
    for (const w of report.warnings) out.note(w.startsWith('refused: ') ? w : `warning: ${w}`);
    return refusals.length ? ExitCode.refused : ExitCode.ok;
  },
};
