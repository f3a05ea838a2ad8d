import type { CommandContext } from './command.ts';
import { ExitCode } from './exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb, parseWindowOption } from './args.ts';
import { createOutput, formatDuration, type Output } from './output.ts';
import { createProgress } from './progress.ts';
import { cliActor, withMigrator } from './session.ts';
import { watchInterrupts } from './interrupts.ts';
import { loadGraph } from './load-graph.ts';
import { dataApiOptionNames } from './target.ts';
import { offlinePlan, renderOfflineSql } from '../../lambdas/core/migrations/offline-sql.ts';
import { ConfigError, OutsideWindowError } from '../../lambdas/core/errors.ts';
import type { Direction } from '../../lambdas/core/migrations/ledger.ts';
import type { AdvanceResult } from '../../lambdas/core/migrations/runner.ts';
import { describeRunningBuild } from '../../lambdas/core/migrations/running-builds.ts';
import { parseLoadLimit, type LoadGuardOptions } from '../../lambdas/core/migrations/load-guard.ts';
import { indexProblem } from '../../lambdas/core/migrations/index-check.ts';
import { describePlanCheck } from '../../lambdas/core/migrations/plan-proof.ts';
import { isOpen, nextOpening } from '../../lambdas/core/window.ts';

const options = {
  ...migrationVerbOptions,
  sql: { type: 'boolean' },
  offline: { type: 'boolean' },
  window: { type: 'string' },
  restart: { type: 'boolean' },
  'max-load': { type: 'string' },
  'critical-load': { type: 'string' },
} as const;

export function migrateUsage(direction: Direction): string {
  const target = direction === 'up' ? '<head|heads|REV|+N|FROM:TO>' : '<REV|-N|base|FROM:TO>';
  return `${direction === 'up' ? 'upgrade' : 'downgrade'} ${target} [--sql [--offline]] [--window START,MINUTES[,TZ]] [--max-load active=N[,waiting=M]] [--critical-load active=N[,waiting=M][,cancel-builds]] [--restart] [--migrations DIR] [--database-url URL | Data API options] [--json]`;
}

function printResult(out: Output, result: AdvanceResult, direction: Direction): void {
  const verb = direction === 'up' ? 'upgraded' : 'downgraded';
  if (result.recorded.length) out.line(`recorded without running: ${result.recorded.join(', ')}`);
  if (result.status === 'done') {
    if (result.total === 0) out.line(`nothing to do: the database is already at ${result.target}`);
    else out.line(`${verb} ${/^[+-]\d+$/.test(result.target) ? result.target : `to ${result.target}`}: ${result.applied.length ? result.applied.join(', ') : 'no migration changed'} (run ${result.runId})`);
  }
  for (const s of result.skipped) out.line(`skipped: ${s.revision} ${s.direction} step ${s.step + 1} (${s.reason})`);
  if (result.verification) {
    const v = result.verification;
    const built = v.indexes.filter((i) => i.expected === 'valid');
    const dropped = v.indexes.filter((i) => i.expected === 'absent');
    if (built.length) out.line(`verified: ${built.filter((i) => !indexProblem(i)).length}/${built.length} index(es) exist and are valid`);
    if (dropped.length) out.line(`verified: ${dropped.filter((i) => !indexProblem(i)).length}/${dropped.length} dropped index(es) are gone`);
    if (v.analyzed.length) out.line(`analyzed ${v.analyzed.length} table(s): ${v.analyzed.join(', ')}`);
    for (const problem of v.indexes.flatMap((i) => indexProblem(i) ?? [])) out.line(`  ${problem}`);
  }
  if (result.planProof) {
    const { checks, error } = result.planProof;
    const held = checks.filter((c) => c.outcome === 'held' || c.outcome === 'not_chosen').length;
    const ran = checks.filter((c) => c.outcome !== 'skipped').length;
    out.line(`plan proof: ${held}/${ran} expectation(s) usable${checks.length > ran ? `, ${checks.length - ran} skipped` : ''}`);
    for (const c of checks) out.line(`  ${describePlanCheck(c)}`);
    // Never a failure (the change is done), but said where it cannot be missed.
    const bad = checks.filter((c) => c.outcome === 'unusable' || c.outcome === 'error');
    if (bad.length) out.note(`warning: ${bad.length} plan expectation(s) do not hold: ${bad.map((c) => `${c.revision} ${JSON.stringify(c.name)}`).join(', ')} (the migration is applied; see \`offpeak verify-plans\`)`);
    if (error) out.note(`warning: ${error}`);
  }
  if (result.status === 'failed') out.line(`failed: ${result.error?.message ?? 'unknown error'}; fix the cause and run the same command again to resume (run ${result.runId})`);
  if (result.throttledMs) out.line(`throttled for ${formatDuration(result.throttledMs)} over --max-load`);
  if (result.status === 'load_critical') {
    out.line(`stopped: critical load (${result.loadCritical?.reason ?? 'over --critical-load'}) before ${result.next ? `${result.next.revision} (${result.next.description})` : 'the end'}; run the same command when the database is quieter to resume (run ${result.runId})`);
  }
  if (result.status === 'window_closed') {
    out.line(`the off-peak window closed before ${result.next ? `${result.next.revision} (${result.next.description})` : 'the end'}; run the same command in the next window to resume (run ${result.runId})`);
    for (const b of result.runningBuilds ?? []) out.line(`  still building: ${describeRunningBuild(b)}`);
  }
}

/** upgrade and downgrade: parse, preview (--sql) or run to completion with progress, print, map to an exit code. */
export async function runMigrateVerb(context: CommandContext, direction: Direction): Promise<ExitCode> {
  const { argv, stdout, stderr, env, cwd } = context;
  const usage = migrateUsage(direction);
  const { values, positionals } = parseVerb(argv, { usage, options, positionals: { min: 1, max: 1 } });
  if (helpRequested(values, usage, stdout)) return ExitCode.ok;
  const target = positionals[0]!;
  const window = parseWindowOption(values.window);
  const loadGuard = loadGuardOption(values['max-load'], values['critical-load']);
  const out = createOutput({ stdout, stderr }, values.json ?? false);
  const dir = migrationsDir(values, cwd);

  if (values.offline) {
    if (!values.sql) throw new ConfigError(`--offline renders a script: use it with --sql\nusage: offpeak ${usage}`);
    const given = (['database-url', 'pglite-dir', ...dataApiOptionNames] as const).filter((k) => values[k] !== undefined);
    if (given.length) throw new ConfigError(`--offline reads no database: drop --${given.join(', --')}`);
    if (loadGuard) throw new ConfigError('--offline runs nothing: drop --max-load and --critical-load');
    const graph = await loadGraph(dir);
    const plan = offlinePlan(graph, direction, target);
    const text = renderOfflineSql(graph, plan, { lockTimeoutMs: 3000, actor: `offline:${cliActor().replace(/^cli:/, '')}` });
    out.result({ direction, target, units: plan.units, sql: text });
    if (!out.json) stdout.write(text);
    return ExitCode.ok;
  }

  if (values.sql) {
    // Reads the ledger to plan from where the database is; creates and changes nothing.
    const preview = await withMigrator({ values, env, cwd, dir, readOnly: true }, async (m) => m.previewSql(await m.plan(direction, target)));
    out.result({ statements: preview.statements });
    if (!out.json) stdout.write(preview.statements.length ? preview.text : `-- nothing to do: the database is already at ${target}\n`);
    return ExitCode.ok;
  }

  if (window && !isOpen(window, new Date())) {
    throw new OutsideWindowError(`the off-peak window ${values.window} is closed; it next opens at ${nextOpening(window, new Date()).toISOString()}`);
  }
  const progress = createProgress(out.json ? stderr : stdout);
  const interrupts = watchInterrupts(stderr);
  let result: AdvanceResult;
  try {
    result = await withMigrator({ values, env, cwd, dir, options: { onEvent: progress, ...(loadGuard ? { loadGuard } : {}) } }, (m) =>
      m.runToCompletion(direction, target, { ...(window ? { window } : {}), restart: values.restart ?? false, signal: interrupts.signal }),
    );
  } finally {
    interrupts.dispose();
    progress.finish();
  }
  out.result(result);
  printResult(out, result, direction);
  if (result.status === 'interrupted') {
    out.note(`interrupted: ${result.interrupted?.what ?? 'the run'}; run the same command to resume (run ${result.runId})`);
    return ExitCode.interrupted;
  }
  if (result.status === 'window_closed') return ExitCode.outsideWindow;
  if (result.status === 'load_critical') return ExitCode.loadCritical;
  return result.status === 'done' ? ExitCode.ok : ExitCode.failed;
}

/** --max-load and --critical-load (load-guard.ts); undefined when neither is given. */
function loadGuardOption(maxLoad: string | undefined, criticalLoad: string | undefined): LoadGuardOptions | undefined {
  if (maxLoad === undefined && criticalLoad === undefined) return undefined;
  return {
    ...(maxLoad !== undefined ? { maxLoad: parseLoadLimit(maxLoad, '--max-load') } : {}),
    ...(criticalLoad !== undefined ? { criticalLoad: parseLoadLimit(criticalLoad, '--critical-load', { critical: true }) } : {}),
  };
}
