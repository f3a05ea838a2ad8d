import type { Command, CommandContext } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb, parseWindowOption } from '../args.ts';
import { createOutput, formatDuration, table } from '../output.ts';
import { createProgress } from '../progress.ts';
import { cliActor } from '../session.ts';
import { watchInterrupts } from '../interrupts.ts';
import { loadMigrations } from '../load-graph.ts';
import { resolveTarget } from '../target.ts';
import { copyFromDump, copyFromTemplate, type DatabaseCopy } from '../database-copy.ts';
import { createPgClient } from '../../../lambdas/core/db/pg.ts';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { ConfigError, InterruptedError } from '../../../lambdas/core/errors.ts';
import { createMigrator } from '../../../lambdas/core/migrations/runner.ts';
import { clearCopiedLease, recordRehearsalSamples, rehearsalFit, unitTimer, type UnitTiming } from '../../../lambdas/core/migrations/rehearsal.ts';

const usage = 'rehearse [REV|head|heads] --database-url URL [--from-dump FILE] [--window START,MINUTES[,TZ]] [--migrations DIR] [--json]';

const options = {
  ...migrationVerbOptions,
  'from-dump': { type: 'string' },
  window: { type: 'string' },
} as const;

/**
 * `offpeak rehearse`: the plan run on a throw-away copy of a PostgreSQL database, timed per unit; the index
 * builds' rates go to the source's ledger (pre-flight's calibration); the copy is always dropped.
 */
export const rehearseCommand: Command = {
  name: 'rehearse',
  summary: 'run the plan on a copy of a PostgreSQL database (TEMPLATE or --from-dump), time each unit, calibrate pre-flight, drop the copy',
  run,
};

function refuseTarget(kind: 'pglite' | 'data-api'): never {
  throw new ConfigError(
    kind === 'pglite'
      ? 'rehearse copies a PostgreSQL database (CREATE DATABASE … TEMPLATE, or a restored dump) and PGlite holds only one database: give --database-url postgres://user@host:5432/dbname'
      : 'rehearse cannot copy a database through the Data API: on AWS start the rehearsal state machine (an Aurora fast clone; docs/aws.md), or give --database-url of a PostgreSQL server',
  );
}

async function run(context: CommandContext): Promise<ExitCode> {
  const { argv, stdout, stderr, env, cwd } = context;
  const { values, positionals } = parseVerb(argv, { usage, options, positionals: { min: 0, max: 1 } });
  if (helpRequested(values, usage, stdout)) return ExitCode.ok;
  const target = positionals[0] ?? 'heads';
  const window = parseWindowOption(values.window);
  const out = createOutput({ stdout, stderr }, values.json ?? false);
  const resolved = resolveTarget(values, env, cwd);
  if (resolved.kind !== 'pg') refuseTarget(resolved.kind);
  const sourceUrl = resolved.url;
  const fromDump = values['from-dump'];
  if (fromDump !== undefined && !fromDump.trim()) throw new ConfigError('--from-dump is empty: give a pg_dump file (custom format or plain SQL)');
  // Load (and so check) the migrations before copying anything.
  const migrations = await loadMigrations(migrationsDir(values, cwd));

  let copy: DatabaseCopy | undefined;
  const interrupts = watchInterrupts(stderr, (code) => {
    if (copy) stderr.write(`offpeak: the copy ${copy.name} is left behind: drop it with DROP DATABASE ${copy.name} WITH (FORCE)\n`);
    process.exit(code);
  });
  const progress = createProgress(out.json ? stderr : stdout);
  const timer = unitTimer(progress);
  const copyStarted = Date.now();
  let copyMs: number;
  let copyClient: SqlClient | undefined;
  let source: SqlClient | undefined;
  try {
    out.note(fromDump ? `restoring ${fromDump} into a fresh database…` : 'copying the database (CREATE DATABASE … TEMPLATE)…');
    copy = fromDump ? await copyFromDump(sourceUrl, fromDump, interrupts.signal) : await copyFromTemplate(sourceUrl);
    copyMs = Date.now() - copyStarted;
    if (interrupts.signal.aborted) throw new InterruptedError('the copy');
    out.note(`copy ${copy.name} made in ${formatDuration(copyMs)}; running the plan on it`);
    copyClient = createPgClient({ connectionString: copy.url, stillRunningAfterMs: 1000 });
    await clearCopiedLease(copyClient);
    const migrator = createMigrator({ client: copyClient, migrations, actor: `${cliActor()} (rehearsal)`, onEvent: timer });
    const result = await migrator.runToCompletion('up', target, { signal: interrupts.signal });
    progress.finish();
    if (result.status === 'interrupted') throw new InterruptedError(result.interrupted?.what ?? 'the rehearsal');

    source = createPgClient({ connectionString: sourceUrl, max: 1, applicationName: 'offpeak:rehearse' });
    const samples = await recordRehearsalSamples({ copy: copyClient, source, runId: result.runId });
    const fit = rehearsalFit(timer.units, window?.durationMinutes);
    const copyLifetimeMs = Date.now() - copyStarted;
    out.result({ status: result.status, target, copy: copy.name, copyMs, copyLifetimeMs, units: timer.units, totalMs: fit.totalMs, window: fit.window, samplesRecorded: samples, error: result.error ?? null });
    printSummary(out, { units: timer.units, totalMs: fit.totalMs, window: fit.window, samples, copyLifetimeMs, copyMs });
    if (result.status === 'failed') {
      out.line(`failed on the copy: ${result.error?.message ?? 'unknown error'}; the source is untouched: fix the migration and rehearse again`);
      return ExitCode.failed;
    }
    if (result.status !== 'done') {
      out.line(`the rehearsal stopped: ${result.status}`);
      return ExitCode.failed;
    }
    return ExitCode.ok;
  } finally {
    progress.finish();
    await copyClient?.close().catch(() => {});
    await source?.close().catch(() => {});
    if (copy) {
      try {
        await copy.drop();
        out.note(`dropped the copy ${copy.name}`);
      } catch (error) {
        out.note(`could not drop the copy ${copy.name} (${(error as Error).message}): drop it with DROP DATABASE ${copy.name} WITH (FORCE)`);
      }
    }
    interrupts.dispose();
  }
}

function printSummary(
  out: ReturnType<typeof createOutput>,
  s: { units: readonly UnitTiming[]; totalMs: number; window: ReturnType<typeof rehearsalFit>['window']; samples: number; copyLifetimeMs: number; copyMs: number },
): void {
  if (!s.units.length) out.line('nothing to rehearse: the copy was already at the target');
  else {
    out.line('rehearsed units:');
    for (const line of table(s.units.map((u) => [`  ${u.revision}`, u.step === null ? 'migration' : `step ${u.step + 1}`, formatDuration(u.durationMs), u.description]))) out.line(line);
    out.line(`total ${formatDuration(s.totalMs)}${s.window ? `: ${s.window.fits ? 'fits' : 'does NOT fit'} the ${s.window.minutes}-minute window` : ''}`);
  }
  out.line(`calibration: ${s.samples} index build sample(s) recorded in the source's ledger for pre-flight`);
  out.line(`the copy lived ${formatDuration(s.copyLifetimeMs)} (made in ${formatDuration(s.copyMs)})`);
}
